//! A small argument parser: `--name VALUE`, `--name=VALUE`, flags, positionals, `--`, and
//! `-h`/`--help` anywhere before `--`. Everything a command does not declare is a usage error.

use std::fmt;

/// Why a command failed, and so its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// The command line is wrong (exit 2): missing or unknown options, bad option values.
    Usage(String),
    /// The input is invalid or does not verify (exit 1): bad keys, claims, tokens, configs.
    Invalid(String),
}

impl CliError {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Invalid(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Invalid(m) => f.write_str(m),
        }
    }
}

/// The options one command accepts.
pub struct Spec {
    /// Options that take a value (`--alg`).
    pub values: &'static [&'static str],
    /// Options that take none (`--public`).
    pub flags: &'static [&'static str],
}

/// A parsed command line.
#[derive(Debug, Default)]
pub struct Parsed {
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
    positionals: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parse {
    /// `-h` or `--help` was given: print the command's help.
    Help,
    /// Run the command with these arguments.
    Run(Parsed),
}

impl Parsed {
    /// The value of an option, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a required option.
    pub fn required(&self, name: &str) -> Result<&str, CliError> {
        self.value(name)
            .ok_or_else(|| CliError::usage(format!("missing {name}")))
    }

    /// True when a flag was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// The one positional argument, named `what` in errors.
    pub fn single(&self, what: &str) -> Result<&str, CliError> {
        match self.positionals.as_slice() {
            [one] => Ok(one),
            [] => Err(CliError::usage(format!("missing {what}"))),
            [_, extra, ..] => Err(CliError::usage(format!("unexpected argument '{extra}'"))),
        }
    }
}

/// Parses `args` (the words after the command name) against `spec`.
pub fn parse(args: &[String], spec: &Spec) -> Result<Parse, CliError> {
    // Help wins over every mistake, wherever it is (before `--`).
    let mut before_end = args.iter().take_while(|w| *w != "--");
    if before_end.any(|w| w == "-h" || w == "--help") {
        return Ok(Parse::Help);
    }
    let mut parsed = Parsed::default();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            parsed.positionals.extend(words.by_ref().cloned());
            break;
        }
        if !word.starts_with('-') || word == "-" {
            parsed.positionals.push(word.clone());
            continue;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (word.as_str(), None),
        };
        if let Some(&known) = spec.values.iter().find(|v| **v == name) {
            let value = match inline {
                Some(v) => v,
                None => words
                    .next()
                    .cloned()
                    .ok_or_else(|| CliError::usage(format!("{name} needs a value")))?,
            };
            if parsed.value(known).is_some() {
                return Err(CliError::usage(format!("{name} given twice")));
            }
            parsed.values.push((known, value));
        } else if let Some(&known) = spec.flags.iter().find(|f| **f == name) {
            if inline.is_some() {
                return Err(CliError::usage(format!("{name} takes no value")));
            }
            parsed.flags.push(known);
        } else {
            return Err(CliError::usage(format!("unknown option '{name}'")));
        }
    }
    Ok(Parse::Run(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        values: &["--alg", "--kid"],
        flags: &["--public"],
    };

    fn run(words: &[&str]) -> Result<Parsed, CliError> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        match parse(&words, &SPEC)? {
            Parse::Run(p) => Ok(p),
            Parse::Help => Err(CliError::usage("help")),
        }
    }

    #[test]
    fn parse_values_flags_and_positionals_found() {
        let p = run(&["--alg", "RS256", "file", "--kid=a=b", "--public"]).unwrap();
        assert_eq!(p.value("--alg"), Some("RS256"));
        assert_eq!(p.value("--kid"), Some("a=b"));
        assert!(p.flag("--public"));
        assert_eq!(p.single("FILE").unwrap(), "file");
    }

    #[test]
    fn parse_dash_is_positional_and_double_dash_ends_options() {
        assert_eq!(run(&["-"]).unwrap().single("FILE").unwrap(), "-");
        assert_eq!(run(&["--", "--alg"]).unwrap().single("X").unwrap(), "--alg");
    }

    #[test]
    fn parse_help_anywhere_wins() {
        for words in [
            &["--bogus", "-h"][..],
            &["x", "--help"],
            &["--alg"],
            &["--help", "--alg"],
        ] {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let help = words.iter().any(|w| w.starts_with("-h") || w == "--help");
            assert_eq!(
                matches!(parse(&words, &SPEC), Ok(Parse::Help)),
                help,
                "{words:?}"
            );
        }
        let after_end: Vec<String> = vec!["--".into(), "-h".into()];
        assert!(matches!(parse(&after_end, &SPEC), Ok(Parse::Run(_))));
    }

    #[test]
    fn parse_mistakes_are_usage_errors() {
        for (words, message) in [
            (&["--nope"][..], "unknown option '--nope'"),
            (&["--alg"][..], "--alg needs a value"),
            (&["--alg", "a", "--alg", "b"][..], "--alg given twice"),
            (&["--public=yes"][..], "--public takes no value"),
        ] {
            assert_eq!(run(words).unwrap_err(), CliError::usage(message));
        }
        assert_eq!(
            run(&["a", "b"]).unwrap().single("FILE").unwrap_err(),
            CliError::usage("unexpected argument 'b'")
        );
        assert_eq!(
            run(&[]).unwrap().required("--alg").unwrap_err(),
            CliError::usage("missing --alg")
        );
    }
}
