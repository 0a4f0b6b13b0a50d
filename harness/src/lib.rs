//! shipshape's harness: images, drivers, the SSH transport and the process
//! hygiene that keeps a run from leaving VMs behind.

pub mod audit;
pub mod bake;
pub mod bench;
pub mod cleanup;
pub mod driver;
pub mod fix;
pub mod gate;
pub mod glob;
pub mod image;
#[cfg(test)]
mod layering;
pub mod paths;
pub mod platform;
pub mod policy;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod shell;
pub mod suite;
pub mod target;
pub mod tls;
pub mod transport;
pub mod yaml;
