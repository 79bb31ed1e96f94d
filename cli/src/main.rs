//! `jwt-relay`: the command-line companion of the jwt-relay filter. Keys (generate, convert),
//! tokens (sign, verify) and configuration checks, with the filter's own `jose` and `config`
//! code, so what this tool accepts is what the filter accepts.
//!
//! Exit codes: 0 ok, 1 invalid input or failed verification, 2 usage error. Results go to
//! stdout, errors to stderr. Key material is printed only by the commands that exist to
//! produce it (`keygen`, `jwk-to-pem`, `pem-to-jwk`); errors never hold key bytes.

mod args;
mod http;
mod input;
mod keys;
mod tokens;

use std::io::Write as _;
use std::process::ExitCode;

use args::{CliError, Parse, Parsed, Spec};

const HELP: &str = "\
jwt-relay: keys, tokens and config checks for the jwt-relay Proxy-Wasm filter.

Usage: jwt-relay <command> [options]

Commands:
  keygen       Generate a signing key: private JWK, public JWKS and PEM forms
  jwk-to-pem   Convert a JWK to PEM (PKCS#8 private or SPKI public)
  pem-to-jwk   Convert a PEM key or certificate to a JWK
  sign         Sign JSON claims into a compact JWS
  verify       Verify a compact JWS against a JWKS (file or http(s):// URL)
  check        Validate a filter configuration with the filter's own code
  help         Show the help of a command

Options:
  -h, --help     Show this help; `jwt-relay <command> --help` for a command's
  -V, --version  Show the version

Exit codes: 0 ok, 1 invalid input or verification failure, 2 usage error.
";

/// `check` options.
const CHECK: Spec = Spec {
    values: &[],
    flags: &[],
};

const CHECK_HELP: &str = "\
Validate a filter configuration exactly as the filter does.

Usage: jwt-relay check CONFIG|-

CONFIG (or stdin for -) is the filter's JSON configuration: the `configuration` value in
Envoy, Istio's `pluginConfig`, Kong's filter `config`. It is parsed and compiled by the
same code the filter runs in on_configure (keys parsed, references resolved; a jwks_uri
is not fetched). Prints \"ok\" and exits 0, or prints the line the filter logs and exits 1:

  jwt-relay: configuration rejected: <json path>: <problem>

Options:
  -h, --help   Show this help.
";

/// One subcommand: its name, options, help and body.
struct Command {
    name: &'static str,
    spec: Spec,
    help: &'static str,
    run: fn(&Parsed) -> Result<String, CliError>,
}

const COMMANDS: [Command; 6] = [
    Command {
        name: "keygen",
        spec: keys::KEYGEN,
        help: keys::KEYGEN_HELP,
        run: keys::keygen,
    },
    Command {
        name: "jwk-to-pem",
        spec: keys::JWK_TO_PEM,
        help: keys::JWK_TO_PEM_HELP,
        run: keys::jwk_to_pem,
    },
    Command {
        name: "pem-to-jwk",
        spec: keys::PEM_TO_JWK,
        help: keys::PEM_TO_JWK_HELP,
        run: keys::pem_to_jwk,
    },
    Command {
        name: "sign",
        spec: tokens::SIGN,
        help: tokens::SIGN_HELP,
        run: tokens::sign,
    },
    Command {
        name: "verify",
        spec: tokens::VERIFY,
        help: tokens::VERIFY_HELP,
        run: tokens::verify,
    },
    Command {
        name: "check",
        spec: CHECK,
        help: CHECK_HELP,
        run: check,
    },
];

/// `check`: the filter's `Pipeline::load`, and its log line on failure.
fn check(args: &Parsed) -> Result<String, CliError> {
    let bytes = input::read_bytes(args.single("CONFIG")?)?;
    match jwt_relay_core::stages::Pipeline::load(&bytes) {
        Ok(_) => Ok("ok\n".into()),
        // The filter logs `jwt-relay: configuration rejected: {e}`; main adds `jwt-relay: `.
        Err(e) => Err(CliError::invalid(format!("configuration rejected: {e}"))),
    }
}

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Runs the command line; the text for stdout, or the error and the command it concerns.
fn run(argv: &[String]) -> Result<String, (CliError, Option<&'static str>)> {
    let Some((first, rest)) = argv.split_first() else {
        return Err((CliError::usage("missing command"), None));
    };
    match first.as_str() {
        "-h" | "--help" => return Ok(HELP.into()),
        "-V" | "--version" => return Ok(format!("jwt-relay {}\n", env!("CARGO_PKG_VERSION"))),
        "help" => {
            return match rest {
                [] => Ok(HELP.into()),
                [name] => find(name)
                    .map(|c| c.help.to_owned())
                    .ok_or_else(|| (CliError::usage(format!("unknown command '{name}'")), None)),
                [_, extra, ..] => Err((
                    CliError::usage(format!("unexpected argument '{extra}'")),
                    None,
                )),
            }
        }
        _ => {}
    }
    let command =
        find(first).ok_or_else(|| (CliError::usage(format!("unknown command '{first}'")), None))?;
    let with_name = |e: CliError| (e, Some(command.name));
    match args::parse(rest, &command.spec).map_err(with_name)? {
        Parse::Help => Ok(command.help.to_owned()),
        Parse::Run(parsed) => (command.run)(&parsed).map_err(with_name),
    }
}

fn main() -> ExitCode {
    let argv: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let outcome = match argv {
        Ok(argv) => run(&argv),
        Err(_) => Err((CliError::usage("arguments must be UTF-8"), None)),
    };
    match outcome {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                // A closed pipe (`| head`) is not worth a message; the exit code tells.
                Err(_) => ExitCode::from(1),
            }
        }
        Err((error, command)) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "jwt-relay: {error}");
            if let CliError::Usage(_) = error {
                let _ = match command {
                    Some(name) => writeln!(stderr, "Try 'jwt-relay {name} --help'."),
                    None => writeln!(stderr, "Try 'jwt-relay --help'."),
                };
            }
            ExitCode::from(error.exit_code())
        }
    }
}
