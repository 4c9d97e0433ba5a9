//! The fatbin container format (`.nv_fatbin`, `__nv_relfatbin`) and the wrapper records of
//! `.nvFatBinSegment`.
//!
//! NVIDIA does not document this format; the layout below was read from public parsers
//! (ZLUDA's `dark_api`, `n-eiling/cuda-fatbin-decompression`, `jiegec/fatbinary`) and checked
//! against the output of NVIDIA's own `fatbinary` 13.5 and real libraries (`libnvjpeg` 12.4 and
//! 13.2 from `PyPI`). All integers are little-endian.
//!
//! # Container header (16 bytes)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `0xBA55ED50` |
//! | 4 | 2 | version, `1` |
//! | 6 | 2 | header size, `16` (entries start here) |
//! | 8 | 8 | size of all entries after the header |
//!
//! A section may hold several containers back to back (libnvjpeg 13: 11 in one section).
//!
//! # Entry header (64 bytes, longer when bit 24 of the flags is set)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | kind: 1 PTX, 2 ELF (cubin); others exist (LTO-IR) |
//! | 2 | 2 | `0x0101` |
//! | 4 | 4 | header size: 64, 80 (PTX), 96/112/120 (`sm_100`+ cubins); payload follows |
//! | 8 | 8 | payload size in the file (padded to 8) |
//! | 16 | 4 | compressed size (0 when not compressed) |
//! | 20 | 4 | offset of the options area in this header (0 or `0x40`) |
//! | 24 | 2 | minor of the image version (PTX: ISA minor; cubin: ELF format, `1.8`) |
//! | 26 | 2 | major of the image version |
//! | 28 | 4 | SM number (`90`, `100`, `121`) |
//! | 32 | 4 | object name offset, 36 length |
//! | 40 | 8 | flags |
//! | 48 | 8 | zero |
//! | 56 | 8 | uncompressed size (when compressed) |
//!
//! Flags: `0x1` 64-bit, `0x2` debug, `0x10` Linux host, `0x2000` LZ4-compressed, `0x8000`
//! Zstandard-compressed, `0x10_0000` architecture-specific target (`sm_90a`),
//! `0x20_0000` family-specific target (`sm_100f`), `0x100_0000` options area present. The `a`/`f`
//! bits were established by building fatbins with `fatbinary 13.5` from cubins and PTX for
//! `sm_90`, `sm_90a`, `sm_100`, `sm_100a`, `sm_100f`, `sm_120f`: they are the only header
//! difference between those entries.
//!
//! # `.nvFatBinSegment`
//! An array of 24-byte `__fatBinC_Wrapper_t` records: magic `0x466243B1`, version (1, or 2 for
//! relocatable device code), and two pointers (relocated at load time, so not followed here).

use super::image::{cubin_header, cubin_variant, ptx_header, toolkit_release};
use super::source::{Source, le_u16, le_u32, le_u64};
use super::types::{Compression, Entry, EntryKind, Fatbin, SmArch, Variant, note};

/// Container magic.
pub(crate) const FATBIN_MAGIC: u32 = 0xBA55_ED50;
/// `__fatBinC_Wrapper_t` magic.
pub(crate) const WRAPPER_MAGIC: u32 = 0x4662_43B1;
/// The container header.
const CONTAINER_HEADER_SIZE: u64 = 16;
/// The fixed part of an entry header.
const ENTRY_HEADER_SIZE: u64 = 64;
/// No toolkit writes entry headers this long; a larger value is a lie.
const MAX_ENTRY_HEADER_SIZE: u64 = 4096;
/// Zero padding tolerated between containers before giving up.
const MAX_PADDING: u64 = 4096;
/// Entries kept per file, all its fatbin sections together (libcublasLt 13 has about 5,400);
/// more are counted, not kept.
pub(crate) const MAX_ENTRIES: usize = 200_000;
/// Bytes of an uncompressed PTX payload read to find `.version` and `.target`.
const PTX_PREFIX: u64 = 8192;
/// Bytes of an uncompressed cubin read for its tool note (`.note.nv.tkinfo`, which nvcc 13.5
/// places within the first 1 KiB), while no image of the section has named its toolkit.
const CUBIN_PREFIX: u64 = 4096;
/// Entry kind of a concatenated entry (`nvcc --concat`): several images in one payload.
const KIND_CONCAT: u16 = 0x100;
/// One image header in a concatenated entry's options area.
const SUB_HEADER_SIZE: usize = 64;

const FLAG_DEBUG: u64 = 0x2;
const FLAG_LZ4: u64 = 0x2000;
const FLAG_ZSTD: u64 = 0x8000;
const FLAG_ARCH_SPECIFIC: u64 = 0x10_0000;
const FLAG_FAMILY_SPECIFIC: u64 = 0x20_0000;

/// Parses every container of a fatbin section, keeping at most `room` entries (what is left of
/// the file's [`MAX_ENTRIES`]). `file_offset` is where `src` starts in the file (for the offsets
/// reported). Problems are appended to `problems`, prefixed with the section.
pub(crate) fn parse_section(
    src: &dyn Source,
    section: &str,
    file_offset: u64,
    room: usize,
    problems: &mut Vec<String>,
) -> Fatbin {
    let mut fatbin = Fatbin {
        section: section.to_owned(),
        offset: file_offset,
        size: src.len(),
        containers: 0,
        entries: Vec::new(),
        toolkit: None,
    };
    let mut dropped = 0usize;
    let mut pos = 0u64;
    let len = src.len();
    while pos < len {
        let header = match src.read_up_to(pos, CONTAINER_HEADER_SIZE) {
            Ok(h) => h,
            Err(e) => {
                note(problems, format!("{section}: {e}"));
                break;
            }
        };
        let magic = le_u32(&header, 0);
        if magic != Some(FATBIN_MAGIC) {
            if header.iter().all(|&b| b == 0) {
                match skip_zeros(src, pos) {
                    Ok(next) if next > pos && next - pos <= MAX_PADDING => {
                        pos = next;
                        continue;
                    }
                    Ok(next) if next >= len => break,
                    Ok(_) => {}
                    Err(e) => {
                        note(problems, format!("{section}: {e}"));
                        break;
                    }
                }
            }
            note(
                problems,
                format!(
                    "{section}: no fatbin container at section offset {pos:#x} (found {}); the \
                 rest of the section was not read",
                    magic.map_or_else(|| "a truncated header".to_owned(), |m| format!("{m:#010x}"))
                ),
            );
            break;
        }
        let version = le_u16(&header, 4).unwrap_or(0);
        let header_size = u64::from(le_u16(&header, 6).unwrap_or(0));
        let Some(body_size) = le_u64(&header, 8) else {
            note(
                problems,
                format!("{section}: container header at {pos:#x} is truncated"),
            );
            break;
        };
        if version != 1 {
            note(
                problems,
                format!(
                    "{section}: container at {pos:#x} has version {version} (known: 1); read anyway"
                ),
            );
        }
        if header_size < CONTAINER_HEADER_SIZE {
            note(
                problems,
                format!(
                    "{section}: container at {pos:#x} has a header size of {header_size} (< 16)"
                ),
            );
            break;
        }
        let body_start = pos + header_size;
        let claimed_end = body_start.checked_add(body_size);
        let body_end = match claimed_end {
            Some(end) if end <= len => end,
            _ => {
                note(
                    problems,
                    format!(
                        "{section}: container at {pos:#x} claims {body_size} bytes but only {} \
                     remain in the section (truncated or lying size)",
                        len.saturating_sub(body_start)
                    ),
                );
                len
            }
        };
        fatbin.containers += 1;
        parse_entries(
            src,
            section,
            file_offset,
            (body_start, body_end),
            room,
            &mut fatbin,
            &mut dropped,
            problems,
        );
        if body_end <= pos || src.stopped() {
            break;
        }
        pos = body_end;
    }
    if dropped > 0 {
        note(
            problems,
            format!(
                "{section}: {dropped} entries beyond the file's first {MAX_ENTRIES} were not listed"
            ),
        );
    }
    fatbin
}

/// The offset of the first non-zero 8-byte word at or after `pos` (within [`MAX_PADDING`] + 8),
/// or the section end.
fn skip_zeros(src: &dyn Source, pos: u64) -> Result<u64, String> {
    let chunk = src.read_up_to(pos, MAX_PADDING + 8)?;
    let mut offset = 0u64;
    for word in chunk.chunks(8) {
        if word.iter().any(|&b| b != 0) {
            return Ok(pos + offset);
        }
        offset += word.len() as u64;
    }
    Ok(pos + offset)
}

/// Parses the entries in `[start, end)` of the section, keeping at most `room` in `entries`.
#[expect(clippy::too_many_arguments, reason = "one internal call site")]
fn parse_entries(
    src: &dyn Source,
    section: &str,
    file_offset: u64,
    (start, end): (u64, u64),
    room: usize,
    fatbin: &mut Fatbin,
    dropped: &mut usize,
    problems: &mut Vec<String>,
) {
    let mut pos = start;
    while pos < end {
        if end - pos < ENTRY_HEADER_SIZE {
            note(
                problems,
                format!(
                    "{section}: {} bytes at {pos:#x} are too short for an entry header",
                    end - pos
                ),
            );
            return;
        }
        let header = match src.read_at(pos, ENTRY_HEADER_SIZE) {
            Ok(h) => h,
            Err(e) => {
                note(problems, format!("{section}: {e}"));
                return;
            }
        };
        let field = |at: usize| le_u32(&header, at).unwrap_or(0);
        let kind = le_u16(&header, 0).unwrap_or(0);
        let header_size = u64::from(field(4));
        let payload_size = le_u64(&header, 8).unwrap_or(0);
        let compressed_size = u64::from(field(16));
        let version_minor = le_u16(&header, 24).unwrap_or(0);
        let version_major = le_u16(&header, 26).unwrap_or(0);
        let arch_number = field(28);
        let flags = le_u64(&header, 40).unwrap_or(0);
        let uncompressed_size = le_u64(&header, 56).unwrap_or(0);

        if !(ENTRY_HEADER_SIZE..=MAX_ENTRY_HEADER_SIZE).contains(&header_size) {
            note(
                problems,
                format!(
                    "{section}: entry at {pos:#x} has a header size of {header_size}; the rest of \
                 this container was not read"
                ),
            );
            return;
        }
        let payload_start = pos + header_size;
        let payload_end = payload_start
            .checked_add(payload_size)
            .filter(|&e| e <= end);
        if payload_end.is_none() {
            note(
                problems,
                format!(
                    "{section}: entry at {pos:#x} claims a {payload_size}-byte payload past the end \
                 of its container (truncated or lying size)"
                ),
            );
        }

        let compression = match (flags & FLAG_LZ4 != 0, flags & FLAG_ZSTD != 0) {
            (false, false) => None,
            (true, false) => Some(Compression::Lz4),
            (false, true) => Some(Compression::Zstd),
            (true, true) => Some(Compression::Unknown),
        };
        if kind == KIND_CONCAT {
            let parent = Parent {
                pos,
                header_size,
                options: u64::from(field(20)),
                offset: file_offset.saturating_add(pos),
                compression,
                stored_size: if compressed_size > 0 {
                    compressed_size
                } else {
                    payload_size
                },
            };
            for entry in concatenated(src, section, &parent, problems) {
                if fatbin.entries.len() < room {
                    fatbin.entries.push(entry);
                } else {
                    *dropped += 1;
                }
            }
            match payload_end {
                Some(next) => pos = next,
                None => return,
            }
            continue;
        }
        let mut variant = match (
            flags & FLAG_ARCH_SPECIFIC != 0,
            flags & FLAG_FAMILY_SPECIFIC != 0,
        ) {
            (false, false) => Variant::None,
            (true, false) => Variant::A,
            (false, true) => Variant::F,
            (true, true) => {
                note(
                    problems,
                    format!(
                        "{section}: entry at {pos:#x} is marked both arch- and family-specific; \
                     taken as arch-specific"
                    ),
                );
                Variant::A
            }
        };
        let entry_kind = match kind {
            1 => EntryKind::Ptx,
            2 => EntryKind::Sass,
            other => EntryKind::Unknown(other),
        };
        let mut arch_number = arch_number;
        let mut ptx_isa = (entry_kind == EntryKind::Ptx)
            .then_some((u32::from(version_major), u32::from(version_minor)));

        // Uncompressed payloads: the image's own header says more (and checks the entry's).
        if compression.is_none() && payload_end.is_some() {
            match entry_kind {
                EntryKind::Sass => {
                    // While no image has named its toolkit, read as far as a cubin's tool note.
                    let want = if fatbin.toolkit.is_none() {
                        CUBIN_PREFIX
                    } else {
                        64
                    };
                    if let Ok(head) = src.read_up_to(payload_start, want.min(payload_size)) {
                        if fatbin.toolkit.is_none() {
                            fatbin.toolkit = toolkit_release(&head);
                        }
                        if let Some(cubin) = cubin_header(&head) {
                            if cubin.sm != arch_number {
                                note(
                                    problems,
                                    format!(
                                        "{section}: entry at {pos:#x} says sm_{arch_number} but its \
                                     cubin says sm_{}; the cubin is believed",
                                        cubin.sm
                                    ),
                                );
                                arch_number = cubin.sm;
                            }
                            if variant == Variant::None {
                                variant = cubin_variant(cubin);
                            }
                        } else {
                            note(
                                problems,
                                format!(
                                    "{section}: SASS entry at {pos:#x} does not hold a CUDA ELF image"
                                ),
                            );
                        }
                    }
                }
                EntryKind::Ptx => {
                    if let Ok(text) = src.read_up_to(payload_start, PTX_PREFIX.min(payload_size)) {
                        let release = toolkit_release(&text);
                        if release > fatbin.toolkit {
                            fatbin.toolkit = release;
                        }
                        let ptx = ptx_header(&text);
                        if let Some(version) = ptx.version {
                            if Some(version) != ptx_isa {
                                note(
                                    problems,
                                    format!(
                                        "{section}: PTX entry at {pos:#x}: header says ISA {}, the \
                                     text says {}.{}; the text is believed",
                                        ptx_isa
                                            .map_or_else(String::new, |(a, b)| format!("{a}.{b}")),
                                        version.0,
                                        version.1
                                    ),
                                );
                            }
                            ptx_isa = Some(version);
                        }
                        if let Some(target) = ptx.target {
                            if target.number() != arch_number {
                                note(
                                    problems,
                                    format!(
                                        "{section}: PTX entry at {pos:#x} says sm_{arch_number} but \
                                     its text targets {target}; the text is believed"
                                    ),
                                );
                                arch_number = target.number();
                            }
                            if target.variant != Variant::None {
                                variant = target.variant;
                            }
                        }
                    }
                }
                EntryKind::Unknown(_) => {}
            }
        }

        let arch = SmArch::from_number(arch_number, variant).unwrap_or_else(|| {
            note(
                problems,
                format!(
                    "{section}: entry at {pos:#x} names SM {arch_number}, which is no real target"
                ),
            );
            SmArch {
                major: 0,
                minor: 0,
                variant,
            }
        });
        let target = match entry_kind {
            EntryKind::Sass => arch.to_string(),
            EntryKind::Ptx => arch.compute_name(),
            EntryKind::Unknown(_) => format!("unknown_{}{}", arch.number(), variant.suffix()),
        };
        let entry = Entry {
            kind: entry_kind,
            arch,
            target,
            ptx_isa,
            compressed: compression.is_some(),
            compression,
            size: if compression.is_some() {
                uncompressed_size
            } else {
                payload_size
            },
            stored_size: if compressed_size > 0 {
                compressed_size
            } else {
                payload_size
            },
            debug: flags & FLAG_DEBUG != 0,
            offset: file_offset.saturating_add(pos),
            relocatable: false,
            kernels: None,
            concatenated: false,
        };
        if fatbin.entries.len() < room {
            fatbin.entries.push(entry);
        } else {
            *dropped += 1;
        }
        match payload_end {
            Some(next) => pos = next,
            None => return,
        }
    }
}

/// A concatenated entry, as [`concatenated`] needs it.
struct Parent {
    /// Section offset of its header.
    pos: u64,
    /// Its header size (the options area lies inside).
    header_size: u64,
    /// Offset of the options area in the header.
    options: u64,
    /// File offset of its header (every image inside reports it).
    offset: u64,
    /// How its payload (all the images together) is compressed.
    compression: Option<Compression>,
    /// Bytes its payload occupies in the file.
    stored_size: u64,
}

/// The images of a concatenated entry (kind `0x100`, `nvcc --concat`), from the image headers
/// in its options area, without decompressing the payload.
///
/// Layout (read from `nvcc --concat` 13.5 output, checked against `cuobjdump --list-elf`): the
/// options area holds a `u32` count and a `u32` byte size (8 + 64 × count), then one 64-byte
/// image header per image, laid out as an entry header: kind (2: cubin), `0x0101`, the
/// image's offset in the uncompressed payload (`u32`), its size (`u64`), 8 zero bytes, the
/// version, the SM number at 28, the flags (`a`/`f` bits as for entries) at 40.
fn concatenated(
    src: &dyn Source,
    section: &str,
    parent: &Parent,
    problems: &mut Vec<String>,
) -> Vec<Entry> {
    let pos = parent.pos;
    let header = match src.read_at(pos, parent.header_size) {
        Ok(h) => h,
        Err(e) => {
            note(problems, format!("{section}: {e}"));
            return Vec::new();
        }
    };
    let area = usize::try_from(parent.options)
        .ok()
        .and_then(|o| header.get(o..))
        .filter(|a| a.len() >= 8);
    let Some(area) = area else {
        note(
            problems,
            format!(
                "{section}: concatenated entry at {pos:#x} has no options area inside its \
                 {}-byte header; its images are not listed",
                parent.header_size
            ),
        );
        return Vec::new();
    };
    let count = le_u32(area, 0).unwrap_or(0);
    let fits = (area.len() - 8) / SUB_HEADER_SIZE;
    if usize::try_from(count).map_or(true, |c| c > fits) {
        note(
            problems,
            format!(
                "{section}: concatenated entry at {pos:#x} claims {count} images, but its \
                 header has room for {fits}; those are listed"
            ),
        );
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX).min(fits);
    let mut entries = Vec::with_capacity(count);
    for (i, sub) in area
        .get(8..)
        .unwrap_or_default()
        .chunks_exact(SUB_HEADER_SIZE)
        .take(count)
        .enumerate()
    {
        let kind = match le_u16(sub, 0).unwrap_or(0) {
            1 => EntryKind::Ptx,
            2 => EntryKind::Sass,
            other => EntryKind::Unknown(other),
        };
        let flags = le_u64(sub, 40).unwrap_or(0);
        let variant = match (
            flags & FLAG_ARCH_SPECIFIC != 0,
            flags & FLAG_FAMILY_SPECIFIC != 0,
        ) {
            (false, true) => Variant::F,
            (true, _) => Variant::A,
            (false, false) => Variant::None,
        };
        let number = le_u32(sub, 28).unwrap_or(0);
        let arch = SmArch::from_number(number, variant).unwrap_or_else(|| {
            note(
                problems,
                format!(
                    "{section}: image {i} of the concatenated entry at {pos:#x} names SM \
                     {number}, which is no real target"
                ),
            );
            SmArch {
                major: 0,
                minor: 0,
                variant,
            }
        });
        let version = (
            u32::from(le_u16(sub, 26).unwrap_or(0)),
            u32::from(le_u16(sub, 24).unwrap_or(0)),
        );
        let target = match kind {
            EntryKind::Sass => arch.to_string(),
            EntryKind::Ptx => arch.compute_name(),
            EntryKind::Unknown(_) => format!("unknown_{}{}", arch.number(), variant.suffix()),
        };
        entries.push(Entry {
            kind,
            arch,
            target,
            ptx_isa: (kind == EntryKind::Ptx).then_some(version),
            compressed: parent.compression.is_some(),
            compression: parent.compression,
            size: le_u64(sub, 8).unwrap_or(0),
            // The payload holds every image: its bytes are counted once, on the first.
            stored_size: if i == 0 { parent.stored_size } else { 0 },
            debug: flags & FLAG_DEBUG != 0,
            offset: parent.offset,
            relocatable: false,
            kernels: None,
            concatenated: true,
        });
    }
    entries
}

/// Containers counted per section outside the fatbin sections: one read each (cuFFT's 24,453
/// took 68 ms; any number above zero already says the file holds code that is not listed).
pub(crate) const MAX_COUNTED: u64 = 200;
/// How far past a container the next one is looked for.
const NEARBY: u64 = 64 << 10;

/// Counts the fatbin containers (magic, version 1, header size 16) in a section that is not a
/// fatbin section, up to [`MAX_COUNTED`] (cuFFT's 280 MB `.ldata` holds 24,453). From each container found, the next
/// is looked for right after its body (one small read when they lie back to back, as they do),
/// then in a growing window; bytes inside a container's body are never searched, so an image
/// that happens to hold the magic is not counted.
pub(crate) fn count_containers(src: &dyn Source) -> Result<u64, String> {
    let mut pattern = [0u8; 8];
    pattern[..4].copy_from_slice(&FATBIN_MAGIC.to_le_bytes());
    pattern[4..6].copy_from_slice(&1u16.to_le_bytes());
    pattern[6..].copy_from_slice(&16u16.to_le_bytes());
    let finder = crate::search::Finder::new(&pattern);
    let len = src.len();
    let mut count = 0;
    let mut pos = 0u64;
    // The first container is looked for in the whole section; the next ones only nearby
    // (cuFFT's come in runs, with megabytes of other data between them): the count says how
    // many lie in the first run, enough to say there is code here that is not listed.
    while count < MAX_COUNTED
        && let Some((at, header)) = next_container(
            src,
            &finder,
            pos,
            if count == 0 { u64::MAX } else { NEARBY },
        )?
    {
        count += 1;
        let body = le_u64(&header, 8).unwrap_or(u64::MAX);
        let end = at
            .saturating_add(CONTAINER_HEADER_SIZE)
            .saturating_add(body);
        // A body that runs past the section is a lie (or a false match): look on right after
        // the header instead.
        pos = if end <= len {
            end
        } else {
            at + CONTAINER_HEADER_SIZE
        };
    }
    Ok(count)
}

/// The next container header at or after `pos` and before `pos + reach`: its offset and its
/// 16 bytes. Looks in 64 bytes first (containers back to back, with padding), then in windows
/// growing to 8 MiB.
fn next_container(
    src: &dyn Source,
    finder: &crate::search::Finder<'_>,
    pos: u64,
    reach: u64,
) -> Result<Option<(u64, Vec<u8>)>, String> {
    const MAX_WINDOW: u64 = 8 << 20;
    let overlap = finder.needle().len() as u64 - 1;
    let mut window = 64u64;
    let mut start = pos;
    while start < src.len() && start - pos < reach {
        let left = (reach - (start - pos)).saturating_add(overlap);
        let chunk = src.read_up_to(start, window.min(left).max(CONTAINER_HEADER_SIZE))?;
        if let Some(i) = finder.find(&chunk) {
            let at = start + i as u64;
            let header = match chunk.get(i..i + 16) {
                Some(h) => h.to_vec(),
                None => src.read_up_to(at, CONTAINER_HEADER_SIZE)?,
            };
            return Ok(Some((at, header)));
        }
        if start + chunk.len() as u64 >= src.len() || (chunk.len() as u64) <= overlap {
            break;
        }
        start += chunk.len() as u64 - overlap;
        window = (window * 16).min(MAX_WINDOW);
    }
    Ok(None)
}

/// Counts the `__fatBinC_Wrapper_t` records of a `.nvFatBinSegment` section.
pub(crate) fn count_wrappers(src: &dyn Source, problems: &mut Vec<String>) -> u64 {
    const RECORD: u64 = 24;
    let mut count = 0;
    let mut pos = 0;
    while pos + RECORD <= src.len() {
        // Read in chunks of whole records to keep the number of reads small.
        let chunk_len = ((src.len() - pos) / RECORD).min(4096) * RECORD;
        let chunk = match src.read_at(pos, chunk_len) {
            Ok(c) => c,
            Err(e) => {
                note(problems, format!(".nvFatBinSegment: {e}"));
                return count;
            }
        };
        for record in chunk.chunks_exact(24) {
            match le_u32(record, 0) {
                Some(WRAPPER_MAGIC) => count += 1,
                _ if record.iter().all(|&b| b == 0) => {}
                _ => {
                    note(
                        problems,
                        format!(".nvFatBinSegment: record at {pos:#x} has no wrapper magic"),
                    );
                    return count;
                }
            }
            pos += RECORD;
        }
    }
    count
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::source::Bytes;
    use super::*;

    /// An entry as a test writes it.
    #[derive(Clone)]
    pub(crate) struct TestEntry {
        pub(crate) kind: u16,
        pub(crate) arch: u32,
        pub(crate) version: (u16, u16),
        pub(crate) flags: u64,
        pub(crate) payload: Vec<u8>,
        pub(crate) header_size: u32,
        pub(crate) uncompressed_size: u64,
        /// Overrides the payload size field (a lie) when set.
        pub(crate) claimed_payload: Option<u64>,
    }

    impl TestEntry {
        pub(crate) fn new(kind: u16, arch: u32, flags: u64, payload: &[u8]) -> Self {
            Self {
                kind,
                arch,
                version: if kind == 1 { (8, 4) } else { (1, 8) },
                flags: flags | 0x11,
                payload: payload.to_vec(),
                header_size: 64,
                uncompressed_size: 0,
                claimed_payload: None,
            }
        }

        pub(crate) fn bytes(&self) -> Vec<u8> {
            let mut payload = self.payload.clone();
            payload.resize(payload.len().div_ceil(8) * 8, 0);
            let mut h = vec![0u8; self.header_size as usize];
            h[0..2].copy_from_slice(&self.kind.to_le_bytes());
            h[2..4].copy_from_slice(&0x0101u16.to_le_bytes());
            h[4..8].copy_from_slice(&self.header_size.to_le_bytes());
            let size = self.claimed_payload.unwrap_or(payload.len() as u64);
            h[8..16].copy_from_slice(&size.to_le_bytes());
            if self.flags & (FLAG_LZ4 | FLAG_ZSTD) != 0 {
                let c = u32::try_from(self.payload.len()).unwrap();
                h[16..20].copy_from_slice(&c.to_le_bytes());
            }
            h[24..26].copy_from_slice(&self.version.1.to_le_bytes());
            h[26..28].copy_from_slice(&self.version.0.to_le_bytes());
            h[28..32].copy_from_slice(&self.arch.to_le_bytes());
            h[40..48].copy_from_slice(&self.flags.to_le_bytes());
            h[56..64].copy_from_slice(&self.uncompressed_size.to_le_bytes());
            h.extend_from_slice(&payload);
            h
        }
    }

    /// A container holding `entries`.
    pub(crate) fn container(entries: &[TestEntry]) -> Vec<u8> {
        let body: Vec<u8> = entries.iter().flat_map(TestEntry::bytes).collect();
        let mut c = Vec::new();
        c.extend_from_slice(&FATBIN_MAGIC.to_le_bytes());
        c.extend_from_slice(&1u16.to_le_bytes());
        c.extend_from_slice(&16u16.to_le_bytes());
        c.extend_from_slice(&(body.len() as u64).to_le_bytes());
        c.extend_from_slice(&body);
        c
    }

    pub(crate) fn ptx(version: &str, target: &str) -> Vec<u8> {
        format!(
            "//\n// Generated by test\n//\n\n.version {version}\n.target {target}\n\
             .address_size 64\n\n.visible .entry k()\n{{\n\tret;\n}}\n\0"
        )
        .into_bytes()
    }

    fn parse(bytes: &[u8]) -> (Fatbin, Vec<String>) {
        let mut problems = Vec::new();
        let fatbin = parse_section(
            &Bytes(bytes),
            ".nv_fatbin",
            0x1000,
            MAX_ENTRIES,
            &mut problems,
        );
        (fatbin, problems)
    }

    fn targets(f: &Fatbin) -> Vec<String> {
        f.entries.iter().map(|e| e.target.clone()).collect()
    }

    #[test]
    fn fatbin_plain_entries() {
        use super::super::image::tests::cubin;
        let section = container(&[
            TestEntry::new(2, 75, 0, &cubin(8, 0x0600_4b04)),
            TestEntry::new(2, 100, 0x100_0000, &cubin(8, 0x0600_6402)),
            TestEntry::new(1, 90, 0, &ptx("8.4", "sm_90")),
        ]);
        let (f, problems) = parse(&section);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(f.containers, 1);
        assert_eq!(targets(&f), ["sm_75", "sm_100", "compute_90"]);
        assert_eq!(f.entries[2].ptx_isa, Some((8, 4)));
        assert!(!f.entries[0].compressed);
        assert_eq!(f.entries[0].offset, 0x1000 + 16);
    }

    /// The header flags as `fatbinary 13.5` writes them: `0x100011` for `sm_90a` cubins,
    /// `0x1200011` for `sm_100f`/`sm_120f` cubins, `0x208011` for compressed `compute_100f`.
    #[test]
    fn fatbin_variants_from_header_flags() {
        let section = container(&[
            TestEntry::new(2, 90, 0x10_0000, &[0; 8]),
            TestEntry::new(2, 100, 0x110_0000, &[0; 8]),
            TestEntry::new(2, 120, 0x120_0000, &[0; 8]),
            {
                let mut e = TestEntry::new(1, 100, 0x20_8000, &[0x28, 0xb5, 0x2f, 0xfd, 1, 2]);
                e.version = (9, 0);
                e.uncompressed_size = 76;
                e
            },
            {
                let mut e = TestEntry::new(2, 103, 0x110_2000, &[0xf0, 1, 2]);
                e.uncompressed_size = 4842;
                e
            },
        ]);
        let (f, problems) = parse(&section);
        assert_eq!(
            targets(&f),
            ["sm_90a", "sm_100a", "sm_120f", "compute_100f", "sm_103a"]
        );
        // The first three hold no ELF image (zeros): said so, not fatal.
        assert_eq!(problems.len(), 3, "{problems:?}");
        let ptx = &f.entries[3];
        assert_eq!(
            (ptx.compressed, ptx.compression),
            (true, Some(Compression::Zstd))
        );
        assert_eq!(
            (ptx.ptx_isa, ptx.size, ptx.stored_size),
            (Some((9, 0)), 76, 6)
        );
        assert_eq!(f.entries[4].compression, Some(Compression::Lz4));
        assert_eq!(f.entries[4].size, 4842);
    }

    #[test]
    fn fatbin_variant_from_payload_text_and_old_cubin_abi() {
        use super::super::image::tests::cubin;
        let section = container(&[
            TestEntry::new(1, 90, 0, &ptx("8.4", "sm_90a")),
            TestEntry::new(2, 90, 0, &cubin(7, 0x005a_0d5a)),
        ]);
        let (f, problems) = parse(&section);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(targets(&f), ["compute_90a", "sm_90a"]);
        assert_eq!(f.entries[0].ptx_isa, Some((8, 4)));
    }

    #[test]
    fn fatbin_header_and_payload_disagree() {
        use super::super::image::tests::cubin;
        let section = container(&[
            TestEntry::new(2, 80, 0, &cubin(7, 0x0056_0556)),
            TestEntry::new(1, 70, 0, &ptx("7.8", "sm_75")),
        ]);
        let (f, problems) = parse(&section);
        assert_eq!(targets(&f), ["sm_86", "compute_75"]);
        assert_eq!(f.entries[1].ptx_isa, Some((7, 8)));
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn fatbin_empty_section_and_empty_container() {
        let (f, problems) = parse(&[]);
        assert!(f.entries.is_empty() && problems.is_empty());
        let (f, problems) = parse(&container(&[]));
        assert_eq!((f.containers, f.entries.len()), (1, 0));
        assert!(problems.is_empty());
        // Zero padding between and after containers is fine.
        let mut two = container(&[TestEntry::new(2, 80, 0, &[])]);
        two.extend_from_slice(&[0; 24]);
        two.extend(container(&[TestEntry::new(2, 86, 0, &[])]));
        two.extend_from_slice(&[0; 40]);
        let (f, problems) = parse(&two);
        assert_eq!(f.containers, 2);
        assert_eq!(targets(&f), ["sm_80", "sm_86"]);
        assert!(problems.iter().all(|p| p.contains("ELF")), "{problems:?}");
    }

    #[test]
    fn fatbin_truncated_everywhere() {
        let full = container(&[
            TestEntry::new(2, 80, 0, &[7; 100]),
            TestEntry::new(1, 80, 0, &ptx("7.0", "sm_80")),
        ]);
        for cut in 0..full.len() {
            let (f, problems) = parse(&full[..cut]);
            assert!(f.entries.len() <= 2);
            if cut > 0 {
                assert!(!problems.is_empty(), "cut at {cut} raised nothing");
            }
        }
    }

    #[test]
    fn fatbin_lying_sizes() {
        let mut lie = TestEntry::new(2, 80, 0, &[1; 16]);
        lie.claimed_payload = Some(u64::MAX - 8);
        let (f, problems) = parse(&container(&[lie.clone(), TestEntry::new(2, 86, 0, &[])]));
        assert_eq!(targets(&f), ["sm_80"]);
        assert!(problems.iter().any(|p| p.contains("lying")), "{problems:?}");

        let mut huge_header = TestEntry::new(2, 80, 0, &[]);
        huge_header.header_size = 64;
        let mut bytes = container(&[huge_header]);
        bytes[16 + 4..16 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let (f, problems) = parse(&bytes);
        assert!(f.entries.is_empty());
        assert!(
            problems.iter().any(|p| p.contains("header size")),
            "{problems:?}"
        );

        let mut body_lie = container(&[TestEntry::new(2, 80, 0, &[])]);
        body_lie[8..16].copy_from_slice(&(1u64 << 62).to_le_bytes());
        let (f, problems) = parse(&body_lie);
        assert_eq!(f.entries.len(), 1);
        assert!(
            problems.iter().any(|p| p.contains("claims")),
            "{problems:?}"
        );

        let mut small_header = container(&[]);
        small_header[6..8].copy_from_slice(&4u16.to_le_bytes());
        let (_, problems) = parse(&small_header);
        assert!(problems.iter().any(|p| p.contains("header size")));
    }

    #[test]
    fn fatbin_unknown_kinds_and_archs() {
        let mut unknown_version = container(&[
            TestEntry::new(4, 90, 0, &[1, 2, 3]),
            TestEntry::new(16, 100, 0, &[]),
            TestEntry::new(2, 0, 0, &[]),
            TestEntry::new(2, 99_999, 0, &[]),
        ]);
        unknown_version[4..6].copy_from_slice(&7u16.to_le_bytes());
        let (f, problems) = parse(&unknown_version);
        let kinds: Vec<_> = f.entries.iter().map(|e| e.kind).collect();
        assert_eq!(kinds[..2], [EntryKind::Unknown(4), EntryKind::Unknown(16)]);
        assert_eq!(targets(&f)[..2], ["unknown_90", "unknown_100"]);
        assert!(problems.iter().any(|p| p.contains("version 7")));
        assert_eq!(
            problems
                .iter()
                .filter(|p| p.contains("no real target"))
                .count(),
            2
        );
    }

    #[test]
    fn fatbin_garbage_after_container() {
        let mut bytes = container(&[TestEntry::new(2, 80, 0, &[])]);
        bytes.extend_from_slice(b"not a fatbin at all!");
        let (f, problems) = parse(&bytes);
        assert_eq!(f.entries.len(), 1);
        assert!(
            problems.iter().any(|p| p.contains("no fatbin container")),
            "{problems:?}"
        );
    }

    #[test]
    fn fatbin_containers_counted_outside_fatbin_sections() {
        // Back to back, after a gap of 3 bytes, after a 50 KB gap; an image holding the magic
        // is not counted (its body is skipped); a container whose body runs past the end is
        // counted and the search goes on after its header.
        let mut payload = vec![7u8; 40];
        payload[8..16].copy_from_slice(&container(&[])[..8]);
        let one = container(&[TestEntry::new(2, 80, 0, &payload)]);
        let mut data = vec![1, 2, 3];
        data.extend(&one);
        data.extend(&one);
        data.extend([0, 0, 0]);
        data.extend(&one);
        data.extend(vec![9u8; 50_000]);
        data.extend(&one);
        let mut lie = container(&[]);
        lie[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        data.extend(&lie);
        data.extend(&one);
        assert_eq!(count_containers(&Bytes(&data)).unwrap(), 6);
        // The first container is found however far in; after it, only the run it starts.
        let mut far = vec![0u8; 300_000];
        far.extend(&one);
        far.extend(&one);
        far.extend(vec![9u8; 200_000]);
        far.extend(&one);
        assert_eq!(count_containers(&Bytes(&far)).unwrap(), 2);
        assert_eq!(count_containers(&Bytes(&[])).unwrap(), 0);
        // A header cut by the section end still counts: a sign of GPU code, never a pass.
        assert_eq!(count_containers(&Bytes(&one[..12])).unwrap(), 1);
        assert_eq!(count_containers(&Bytes(&one[..7])).unwrap(), 0);
    }

    #[test]
    fn fatbin_wrapper_records() {
        let mut seg = Vec::new();
        for version in [1u32, 2] {
            seg.extend_from_slice(&WRAPPER_MAGIC.to_le_bytes());
            seg.extend_from_slice(&version.to_le_bytes());
            seg.extend_from_slice(&[0xaa; 16]);
        }
        seg.extend_from_slice(&[0; 24]);
        let mut problems = Vec::new();
        assert_eq!(count_wrappers(&Bytes(&seg), &mut problems), 2);
        assert!(problems.is_empty());
        seg.extend_from_slice(&[1; 24]);
        assert_eq!(count_wrappers(&Bytes(&seg), &mut problems), 2);
        assert_eq!(problems.len(), 1);
    }
}
