//! The `auditgate` command line.
fn main() {
    println!("auditgate");
}
