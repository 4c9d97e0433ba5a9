//! Writes nvprobe's shell completions (bash, zsh, fish) and its man pages into a directory,
//! generated from the clap definition in `probe/src/cli.rs`, so they never drift from
//! `--help`. Run by `scripts/release.sh`; by hand:
//!
//! ```text
//! cargo run -p nvprobe-gen-docs -- OUT_DIR
//! ```
//!
//! Writes `OUT_DIR/completions/{nvprobe.bash,_nvprobe,nvprobe.fish}`, `OUT_DIR/man/nvprobe.1`
//! and one `OUT_DIR/man/nvprobe-<command>.1` per subcommand, then lists the files on stdout.
//!
//! `nvprobe-gen-docs --findings-table README.md [--check]` writes the README's findings table
//! from the catalogue of finding codes (`nvprobe::codes`), between its markers; with `--check`
//! it only says whether the README is up to date (exit 1 when not).
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory as _;
use clap_complete::Shell;

/// The markers around the generated findings table in the README.
const TABLE_START: &str = "<!-- findings-table:";
const TABLE_END: &str = "<!-- end findings-table -->";

/// The README with its findings table generated anew; `None` without the markers.
fn with_findings_table(readme: &str) -> Option<String> {
    let start = readme.find(TABLE_START)?;
    let body = start + readme.get(start..)?.find('\n')? + 1;
    let end = body + readme.get(body..)?.find(TABLE_END)?;
    Some(format!(
        "{}{}{}",
        readme.get(..body)?,
        nvprobe::codes::markdown_table(),
        readme.get(end..)?
    ))
}

fn findings_table(path: &Path, check: bool) -> ExitCode {
    let mut stderr = std::io::stderr();
    let readme = match std::fs::read_to_string(path) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(stderr, "nvprobe-gen-docs: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let Some(new) = with_findings_table(&readme) else {
        let _ = writeln!(
            stderr,
            "nvprobe-gen-docs: {}: no findings-table markers",
            path.display()
        );
        return ExitCode::FAILURE;
    };
    if check {
        if new == readme {
            return ExitCode::SUCCESS;
        }
        let _ = writeln!(
            stderr,
            "{}: the findings table differs from probe/src/codes.rs; run 'cargo run -p nvprobe-gen-docs -- --findings-table {}'",
            path.display(),
            path.display()
        );
        return ExitCode::FAILURE;
    }
    match std::fs::write(path, new) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(stderr, "nvprobe-gen-docs: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--findings-table") {
        let Some(path) = args.get(1) else {
            let _ = writeln!(
                std::io::stderr(),
                "usage: nvprobe-gen-docs --findings-table README.md [--check]"
            );
            return ExitCode::from(2);
        };
        return findings_table(Path::new(path), args.get(2).is_some_and(|a| a == "--check"));
    }
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        let _ = writeln!(std::io::stderr(), "usage: nvprobe-gen-docs OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(&out) {
        Ok(files) => {
            let mut stdout = std::io::stdout().lock();
            for f in files {
                let _ = writeln!(stdout, "{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe-gen-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = nvprobe::cli::Cli::command();
        files.push(clap_complete::generate_to(
            shell,
            &mut cmd,
            "nvprobe",
            &completions,
        )?);
    }
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    let mut cmd = nvprobe::cli::Cli::command();
    cmd.build();
    files.push(write_man(&man, "nvprobe", &cmd)?);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // clap takes a `'static` name without its `string` feature; this process is short.
        let name: &'static str = Box::leak(format!("nvprobe-{}", sub.get_name()).into_boxed_str());
        let sub = sub.clone().name(name);
        files.push(write_man(&man, name, &sub)?);
    }
    Ok(files)
}

fn write_man(dir: &Path, name: &str, cmd: &clap::Command) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(&path, buf)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    /// The README's findings table is the catalogue's (`--findings-table README.md` rewrites
    /// it).
    #[test]
    fn readme_findings_table_is_generated() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let new = super::with_findings_table(&readme).expect("findings-table markers");
        assert!(
            new == readme,
            "README.md's findings table differs from probe/src/codes.rs: run 'cargo run -p nvprobe-gen-docs -- --findings-table README.md'"
        );
    }

    #[test]
    fn gen_docs_writes_completions_and_man_pages_for_every_command() {
        let dir = std::env::temp_dir().join(format!("nvprobe-gen-docs-{}", std::process::id()));
        let files = super::generate(&dir).unwrap();
        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
        for cmd in [
            "check", "capture", "scan", "labels", "export", "explain", "compare", "schema",
        ] {
            assert!(
                read("completions/nvprobe.bash").contains(cmd),
                "bash: {cmd}"
            );
            assert!(read("completions/_nvprobe").contains(cmd), "zsh: {cmd}");
            assert!(
                read("completions/nvprobe.fish").contains(cmd),
                "fish: {cmd}"
            );
            assert!(
                read(&format!("man/nvprobe-{cmd}.1")).starts_with(".ie"),
                "{cmd}"
            );
        }
        // The export formats are completed by value.
        assert!(read("completions/nvprobe.fish").contains("wheel-variant"));
        let man = read("man/nvprobe.1");
        assert!(
            man.contains(".TH nvprobe 1") && man.contains("Examples:"),
            "{man}"
        );
        assert_eq!(files.len(), 3 + 1 + 8);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
