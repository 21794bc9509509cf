//! `verify-log`: checks an auditgate audit log (or an export bundle) with nothing but the key the
//! auditor trusts. Exit 0 intact and attested, 1 integrity failure (naming the first failing
//! entry), 2 usage or I/O error, 3 intact but not attested.

fn main() {
    std::process::exit(auditlog::cli::main());
}
