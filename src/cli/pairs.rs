//! `--pairs FILE --left COL --right COL …`: the user's own pair tables. Each column
//! flag is given once (for every `--pairs`) or once per `--pairs`, in order.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use lexalign::pairs::PairFile;

#[derive(Debug, Clone, Default, Args)]
pub struct PairsArgs {
    /// Your own pair table (CSV, TSV or Parquet); repeatable.
    #[arg(long = "pairs", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Column of the left strings (names, terms).
    #[arg(long, value_name = "COL", requires = "files")]
    pub left: Vec<String>,
    /// Column of the right strings (identifiers, symbols).
    #[arg(long, value_name = "COL", requires = "files")]
    pub right: Vec<String>,
    /// Column of item ids, kept in outputs for joining (default: row number).
    #[arg(long, value_name = "COL", requires = "files")]
    pub id: Vec<String>,
    /// Numeric popularity column (binned with --binning).
    #[arg(long, value_name = "COL", requires = "files")]
    pub popularity: Vec<String>,
    /// Column of train / withheld labels (for the memorisation probe).
    #[arg(long, value_name = "COL", requires = "files")]
    pub split: Vec<String>,
    /// Name of the pairing in outputs (default: the file name).
    #[arg(long, value_name = "NAME", requires = "files")]
    pub name: Vec<String>,
}

/// The value of a per-file flag for file `i` of `n`: a flag given once applies to
/// every file; otherwise it must be given once per file, in order.
pub fn per_file(
    flag: &str,
    files_flag: &str,
    values: &[String],
    n: usize,
    i: usize,
) -> Result<Option<String>> {
    Ok(match values.len() {
        0 => None,
        1 => Some(values[0].clone()),
        m if m == n => Some(values[i].clone()),
        m => bail!(
            "--{flag} is given {m} times for {n} --{files_flag} files; give it once (for all) or once per file"
        ),
    })
}

impl PairsArgs {
    /// One [`PairFile`] per `--pairs`, with its columns.
    pub fn files(&self) -> Result<Vec<PairFile>> {
        let n = self.files.len();
        let pick = |flag: &str, values: &[String], i: usize| per_file(flag, "pairs", values, n, i);
        (0..n)
            .map(|i| {
                let required = |flag: &str, v: &[String]| -> Result<String> {
                    pick(flag, v, i)?.ok_or_else(|| {
                        anyhow::anyhow!(
                            "--pairs {}: --{flag} COL is required (the column of the {flag} strings)",
                            self.files[i].display()
                        )
                    })
                };
                let name = pick("name", &self.name, i)?;
                if self.name.len() == 1 && n > 1 {
                    bail!("--name is given once for {n} --pairs files; give one name per file");
                }
                Ok(PairFile {
                    file: self.files[i].clone(),
                    left: required("left", &self.left)?,
                    right: required("right", &self.right)?,
                    id: pick("id", &self.id, i)?,
                    popularity: pick("popularity", &self.popularity, i)?,
                    split: pick("split", &self.split, i)?,
                    name,
                })
            })
            .collect()
    }
}
