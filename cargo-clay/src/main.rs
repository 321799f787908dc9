//! `cargo clay`: see the library crate for the commands.

fn main() {
    std::process::exit(cargo_clay::run(std::env::args_os()));
}
