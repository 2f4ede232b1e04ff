//! One module per subcommand.

pub mod agent;
pub mod bench;
pub mod duration;
pub mod server;
pub mod signals;
pub mod simulate;
pub mod up;
