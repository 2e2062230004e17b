//! Standard input as a request body and as the source of a password, as HTTPie uses it.

use std::io::{IsTerminal, Read};
use std::os::unix::fs::FileTypeExt;

use super::parse::StdinBody;

/// The process's standard input, seen as HTTPie sees it.
pub(crate) struct ProcessStdin {
    body: bool,
}

impl ProcessStdin {
    /// Standard input as a body source: not with `--ignore-stdin`, not a terminal, and (unlike
    /// HTTPie, which counts any non-terminal) not a character device such as `/dev/null`, so
    /// that a program run with no input at all is not taken to send an empty body.
    pub(crate) fn detect(ignore_stdin: bool) -> Self {
        let stdin = std::io::stdin();
        let body = !ignore_stdin && !stdin.is_terminal() && !is_character_device(&stdin);
        ProcessStdin { body }
    }
}

fn is_character_device(stdin: &std::io::Stdin) -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = stdin.as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| m.file_type().is_char_device())
}

impl StdinBody for ProcessStdin {
    fn has_body(&self) -> bool {
        self.body
    }

    fn read(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}
