//! Drivers bring up target machines. `qemu` is the default: a local VM booted
//! from an image that `image` builds from Debian packages.

pub mod accel;
pub mod qemu;
pub mod qmp;
pub mod warm;

pub use qemu::{BootOptions, DriverError, QemuVm};
