//! `verify-log`: checks an auditgate audit log (or an export bundle) with nothing but its public
//! key. Exit 0 intact, 1 integrity failure (naming the first failing entry), 2 usage or I/O error.

use clap::Parser;

fn main() {
    let args = auditgate::audit::VerifyLogArgs::parse();
    std::process::exit(auditgate::audit::verify_log_main(args));
}
