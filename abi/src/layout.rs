//! The compile-time layout assertion used under every ABI struct.

/// Asserts a struct's size, alignment and the offset of every field, at compile time.
///
/// ```text
/// assert_layout!(NVOS54_PARAMETERS, size = 32, align = 8,
///     h_client @ 0, h_object @ 4, cmd @ 8, flags @ 12, params @ 16, params_size @ 24, status @ 28);
/// ```
///
/// The field list must be exhaustive: the macro also destructures the struct without `..`, so a
/// field that is missing from the list (or listed but absent) is a compile error. Explicit
/// padding fields (`_pad0`) are fields too and are listed like the others.
macro_rules! assert_layout {
    ($t:ident, size = $size:expr, align = $align:expr, $($field:ident @ $off:expr),+ $(,)?) => {
        const _: () = {
            assert!(::core::mem::size_of::<$t>() == $size, concat!("size of ", stringify!($t)));
            assert!(
                ::core::mem::align_of::<$t>() == $align,
                concat!("align of ", stringify!($t))
            );
            $(
                assert!(
                    ::core::mem::offset_of!($t, $field) == $off,
                    concat!("offset of ", stringify!($t), ".", stringify!($field))
                );
            )+
        };
        const _: fn($t) = |value: $t| {
            let $t { $($field: _),+ } = value;
        };
    };
}

pub(crate) use assert_layout;
