//! Reports: a terminal table, JSON and JUnit XML.

pub mod json;
pub mod junit;
pub mod table;

/// Output formats of `shipshape audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Junit,
}
