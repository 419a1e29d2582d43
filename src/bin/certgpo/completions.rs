//! `certgpo completions SHELL`: the shell completion script, generated from the same
//! clap definition that parses the command line, so it cannot fall behind it.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # bash, for the current user (bash-completion loads it on demand):
  certgpo completions bash > ~/.local/share/bash-completion/completions/certgpo

  # zsh: a directory on $fpath
  certgpo completions zsh > ~/.zfunc/_certgpo

  # fish
  certgpo completions fish > ~/.config/fish/completions/certgpo.fish

  # PowerShell, in the current session (add the line to $PROFILE to keep it):
  certgpo completions powershell | Out-String | Invoke-Expression")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> Result<u8, Failure> {
    // Rendered into memory first: clap_complete panics on a failed write, while a
    // closed standard output must end as a one-line error like every other command's.
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::Cli::command(),
        "certgpo",
        &mut script,
    );
    crate::output::bytes(&script)?;
    Ok(code::OK)
}
