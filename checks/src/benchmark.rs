//! The benchmark versions whose ids label the reports. Every control keeps
//! its stable id and carries one CIS id per version (or none, with why).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Benchmark {
    /// CIS Docker Benchmark 1.6.0 (2023), docker-bench-security's numbering.
    #[default]
    #[serde(rename = "cis-1.6.0")]
    Cis160,
    /// CIS Docker Benchmark 1.8.0 (July 2025): a devicemapper item became
    /// 2.7, and every later daemon item moved down one.
    #[serde(rename = "cis-1.8.0")]
    Cis180,
}

impl Benchmark {
    pub const ALL: [Benchmark; 2] = [Benchmark::Cis160, Benchmark::Cis180];

    /// `cis-1.6.0`: the key in the catalogue and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Benchmark::Cis160 => "cis-1.6.0",
            Benchmark::Cis180 => "cis-1.8.0",
        }
    }

    pub fn name(self) -> &'static str {
        "CIS Docker Benchmark"
    }

    pub fn version(self) -> &'static str {
        match self {
            Benchmark::Cis160 => "1.6.0",
            Benchmark::Cis180 => "1.8.0",
        }
    }
}

impl fmt::Display for Benchmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name(), self.version())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown benchmark `{0}`; known: cis-1.6.0, cis-1.8.0")]
pub struct UnknownBenchmark(pub String);

impl FromStr for Benchmark {
    type Err = UnknownBenchmark;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Benchmark::ALL
            .into_iter()
            .find(|b| b.key() == s)
            .ok_or_else(|| UnknownBenchmark(s.to_string()))
    }
}
