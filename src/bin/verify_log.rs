//! `verify-log`, as a binary of the gateway package too, so `cargo build` at the top puts it next
//! to `auditgate` (target/*/verify-log). The verifier is the `auditlog` crate; an auditor installs
//! it alone with `cargo install --path crates/auditlog`.

fn main() {
    std::process::exit(auditlog::cli::main());
}
