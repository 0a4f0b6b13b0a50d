//! Reports: a terminal table, JSON, JUnit XML and a self-contained HTML page.

pub mod html;
pub mod json;
pub mod junit;
pub mod table;

/// Output formats of `shipshape audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Junit,
    Html,
}
