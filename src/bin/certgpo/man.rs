//! `certgpo man --out DIR`: one manual page for `certgpo` and one per subcommand
//! (`certgpo-build.1`, ...), generated from the clap definition that parses the
//! command line, so the pages name exactly the options `--help` shows.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # Install the pages for the current user, then read one:
  certgpo man --out ~/.local/share/man/man1
  man certgpo-build

  # Read a page without installing it:
  certgpo man --out /tmp/certgpo-man && man -l /tmp/certgpo-man/certgpo-fetch.1

DIR is created if needed; pages already there are replaced, each written atomically.")]
pub struct ManArgs {
    /// Directory to write certgpo.1 and certgpo-<COMMAND>.1 into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: ManArgs) -> Result<u8, Failure> {
    let write_error = |path: &std::path::Path, e: std::io::Error| {
        Failure::new(format!("cannot write {}: {e}", path.display()))
    };
    if args.out.exists() && !args.out.is_dir() {
        return Err(Failure::new(format!(
            "cannot write manual pages into {}: not a directory",
            args.out.display()
        ))
        .hint("--out names the directory for the pages; it is created if missing"));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| write_error(&args.out, e))?;
    let mut cli = crate::Cli::command().disable_help_subcommand(true);
    // Building gives each subcommand its display name (`certgpo-build`), the page's name.
    cli.build();
    let pages = std::iter::once(cli.clone()).chain(cli.get_subcommands().cloned());
    let mut written = 0;
    for cmd in pages {
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page)
            .map_err(|e| Failure::new(format!("cannot render a manual page: {e}")))?;
        let path = args.out.join(man.get_filename());
        certgpo::atomic::write_file("--out", &path, &page)?;
        written += 1;
    }
    eprintln!("wrote {written} manual pages to {}", args.out.display());
    Ok(code::OK)
}
