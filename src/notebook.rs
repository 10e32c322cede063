//! Helpers for evcxr (Rust Jupyter) notebooks: HTML tables, a heading, cosine
//! matrices of strings and nearest-neighbour search in a vocabulary. Figures come
//! from [`crate::plot`] and cosines from [`crate::metrics::cosine`]; this module
//! only arranges and shows them. Everything takes concrete types (`&[&str]`,
//! `&[String]`, array views), which keeps the code a notebook cell compiles small.
//!
//! Tables, data frames and cosine matrices show as HTML through the [`Html`] trait:
//! a value that ends a cell is displayed by evcxr, which calls its `evcxr_display`
//! method, once the trait is in scope (`use lexalign::prelude::*;`).
//!
//! evcxr compiles every cell into its own library with its own copy of lexalign,
//! rayon and ort. A [`Model`] therefore keeps no thread pool or runtime handle tied
//! to the cell that loaded it: load it once and use it from any later cell.
//!
//! ```
//! use lexalign::prelude::*;
//! let mut t = Table::new(&["term", "id"]);
//! t.push(vec!["Seizure".into(), "HP:0001250".into()])?;
//! t.push(vec!["<b>".into(), "a & b".into()])?;
//! let html = t.to_html();
//! assert!(html.contains("<td>HP:0001250</td>"));
//! assert!(html.contains("&lt;b&gt;") && html.contains("a &amp; b"));
//! # Ok::<(), lexalign::Error>(())
//! ```
//!
//! In a notebook (needs the installed model):
//!
//! ```no_run
//! use lexalign::prelude::*;
//! let model = Model::load_default()?;
//! let m = CosineMatrix::compute(&model, &["BRCA1", "Seizure"], &["HGNC:1100", "HP:0001250"])?;
//! m.evcxr_display(); // an HTML table
//! m.heatmap("Names vs identifiers")?.evcxr_display(); // a PNG
//! # Ok::<(), lexalign::Error>(())
//! ```

use std::fmt::Write as _;

use ndarray::{Array2, ArrayView2, Axis};
use polars::prelude::{AnyValue, DataFrame};

use crate::embed::{EmbedOptions, Model, TokenStats};
use crate::error::{Error, Result};
use crate::metrics::cosine::{cosine, nearest};
use crate::model::Asked;
use crate::plot::{heatmap, Figure};

/// Rows shown by default before a table is cut (first and last halves kept).
pub const DEFAULT_MAX_ROWS: usize = 40;

/// A value shown as HTML in a notebook.
///
/// ```
/// use lexalign::prelude::*;
/// use polars::prelude::*;
/// let df = df!("id" => ["HP:0001250"], "label" => ["Seizure"]).unwrap();
/// assert!(df.to_html().contains("<td>Seizure</td>"));
/// df.evcxr_display(); // prints the EVCXR_BEGIN_CONTENT text/html block
/// // Several tables show as one block (evcxr keeps one output per MIME type and cell).
/// let both = vec![Table::new(&["a"]), Table::new(&["b"])];
/// assert_eq!(both.to_html().matches("<table>").count(), 2);
/// ```
pub trait Html {
    /// The value as one HTML fragment, every text in it escaped.
    fn to_html(&self) -> String;

    /// Shows the value inline in evcxr (MIME type text/html).
    fn evcxr_display(&self) {
        show_html(&self.to_html());
    }
}

/// Writes evcxr's inline-content block for HTML (figures write theirs as PNG).
fn show_html(html: &str) {
    println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
}

/// Shows a small heading inline (escaped), e.g. a figure's name above it.
pub fn heading(text: &str) {
    show_html(&format!("<h4>{}</h4>", escape_html(text)));
}

impl<T: Html> Html for [T] {
    fn to_html(&self) -> String {
        let parts: Vec<String> = self.iter().map(Html::to_html).collect();
        parts.join("\n<br>\n")
    }
}

impl Html for DataFrame {
    fn to_html(&self) -> String {
        match Table::from_df(self) {
            Ok(t) => t.to_html(),
            Err(e) => format!(
                "<p>data frame could not be shown: {}</p>",
                escape_html(&e.to_string())
            ),
        }
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
///
/// ```
/// assert_eq!(lexalign::notebook::escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
/// ```
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Formats a number for a table: integers as such, others with 4 significant
/// digits (scientific notation below 1e-4), NaN as "NaN".
///
/// ```
/// use lexalign::notebook::fmt_num;
/// assert_eq!(fmt_num(3.0), "3");
/// assert_eq!(fmt_num(0.123456), "0.1235");
/// assert_eq!(fmt_num(1234.5678), "1235");
/// ```
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let a = x.abs();
    if a < 1e-4 {
        return format!("{x:.3e}");
    }
    let digits = (4 - 1 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

fn any_to_string(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(x) => fmt_num(*x),
        AnyValue::Float32(x) => fmt_num(*x as f64),
        other => other.to_string(),
    }
}

/// A table of strings shown as HTML in a notebook; numeric columns are
/// right-aligned. Build it from headers and rows, or from a polars `DataFrame`.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Right-align this column (set for numeric columns of a `DataFrame`).
    pub numeric: Vec<bool>,
    pub caption: Option<String>,
    /// Rows shown before the middle is cut (default [`DEFAULT_MAX_ROWS`]).
    pub max_rows: usize,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            numeric: vec![false; columns.len()],
            caption: None,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }

    /// All rows and columns of a data frame (numbers formatted by [`fmt_num`]).
    pub fn from_df(df: &DataFrame) -> Result<Table> {
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let mut t = Table::new(&refs);
        t.numeric = df
            .dtypes()
            .iter()
            .map(|d| d.is_primitive_numeric())
            .collect();
        let cols = df.columns();
        for i in 0..df.height() {
            let mut row = Vec::with_capacity(cols.len());
            for c in cols {
                let v = c.get(i)?;
                row.push(any_to_string(&v));
            }
            t.rows.push(row);
        }
        Ok(t)
    }

    /// Appends a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<String>) -> Result<()> {
        crate::ensure!(
            row.len() == self.columns.len(),
            Error::param(
                "row",
                format!(
                    "{} cells for the {} columns {:?}; expected one cell per column",
                    row.len(),
                    self.columns.len(),
                    self.columns
                )
            )
        );
        self.rows.push(row);
        Ok(())
    }

    /// Appends a row of a label followed by numbers (formatted by [`fmt_num`]),
    /// marking those columns numeric.
    pub fn push_numbers(&mut self, label: &str, values: &[f64]) -> Result<()> {
        let mut row = vec![label.to_string()];
        row.extend(values.iter().map(|v| fmt_num(*v)));
        self.push(row)?;
        self.numeric.iter_mut().skip(1).for_each(|n| *n = true);
        Ok(())
    }

    /// Sets a caption shown above the table.
    pub fn with_caption(mut self, caption: &str) -> Table {
        self.caption = Some(caption.to_string());
        self
    }

    /// Sets how many rows are shown before the middle is cut.
    pub fn with_max_rows(mut self, n: usize) -> Table {
        self.max_rows = n.max(1);
        self
    }

    fn align(&self, j: usize) -> &'static str {
        if self.numeric.get(j).copied().unwrap_or(false) {
            " style=\"text-align:right\""
        } else {
            ""
        }
    }
}

impl Html for Table {
    /// The table as one HTML `<table>` element, every cell escaped.
    fn to_html(&self) -> String {
        let mut h = String::from("<table>\n");
        if let Some(c) = &self.caption {
            let _ = writeln!(h, "<caption>{}</caption>", escape_html(c));
        }
        h.push_str("<thead><tr>");
        for (j, c) in self.columns.iter().enumerate() {
            let _ = write!(h, "<th{}>{}</th>", self.align(j), escape_html(c));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        let n = self.rows.len();
        let (head, tail) = if n > self.max_rows {
            (self.max_rows.div_ceil(2), self.max_rows / 2)
        } else {
            (n, 0)
        };
        let row_html = |h: &mut String, row: &Vec<String>| {
            h.push_str("<tr>");
            for (j, cell) in row.iter().enumerate() {
                let _ = write!(h, "<td{}>{}</td>", self.align(j), escape_html(cell));
            }
            h.push_str("</tr>\n");
        };
        for row in &self.rows[..head] {
            row_html(&mut h, row);
        }
        if tail > 0 || head < n {
            let _ = writeln!(
                h,
                "<tr><td colspan=\"{}\" style=\"text-align:center\">… {} more rows …</td></tr>",
                self.columns.len().max(1),
                n - head - tail
            );
            for row in &self.rows[n - tail..] {
                row_html(&mut h, row);
            }
        }
        h.push_str("</tbody>\n</table>");
        h
    }
}

/// The options the notebook helpers embed with: the model's own pooling (its
/// manifest: mean for MiniLM, the last token for a decoder), raw vectors as the
/// report measures them, cache on.
pub fn embed_options(model: &Model) -> Result<EmbedOptions> {
    let raw = Asked {
        normalize: Some(false),
        ..Asked::default()
    };
    Ok(EmbedOptions::default().with_setting(&model.setting(&raw)?))
}

/// Embeds strings with [`embed_options`], row i for `texts[i]`.
pub fn embed(model: &Model, texts: &[&str]) -> Result<Array2<f32>> {
    Ok(model.embed(texts, &embed_options(model)?)?.vectors)
}

/// [`embed`] for owned strings (e.g. a column read from a file).
pub fn embed_strings(model: &Model, texts: &[String]) -> Result<Array2<f32>> {
    Ok(model.embed(texts, &embed_options(model)?)?.vectors)
}

/// Cosines of row strings against column strings, with their labels.
#[derive(Debug, Clone)]
pub struct CosineMatrix {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    /// `values[[i, j]]` = cos(rows[i], cols[j]).
    pub values: Array2<f32>,
}

impl CosineMatrix {
    /// Embeds both lists once (default options) and takes raw cosines.
    pub fn compute(model: &Model, rows: &[&str], cols: &[&str]) -> Result<CosineMatrix> {
        let mut all: Vec<&str> = rows.to_vec();
        all.extend_from_slice(cols);
        let v = embed(model, &all)?;
        let (r, c) = v.view().split_at(Axis(0), rows.len());
        CosineMatrix::from_vectors(
            rows.iter().map(|s| s.to_string()).collect(),
            cols.iter().map(|s| s.to_string()).collect(),
            r,
            c,
        )
    }

    /// From labels and already computed vectors (one row per label).
    pub fn from_vectors(
        rows: Vec<String>,
        cols: Vec<String>,
        a: ArrayView2<f32>,
        b: ArrayView2<f32>,
    ) -> Result<CosineMatrix> {
        for (what, labels, n) in [
            ("row", rows.len(), a.nrows()),
            ("column", cols.len(), b.nrows()),
        ] {
            crate::ensure!(
                labels == n,
                Error::param(
                    "labels",
                    format!("{labels} {what} labels for {n} {what} vectors; expected one label per vector"),
                )
            );
        }
        Ok(CosineMatrix {
            rows,
            cols,
            values: cosine(a, b)?,
        })
    }

    /// The matrix as a table, values to 3 decimals.
    pub fn table(&self) -> Table {
        let mut headers = vec![""];
        headers.extend(self.cols.iter().map(|c| c.as_str()));
        let mut t = Table::new(&headers).with_max_rows(usize::MAX);
        t.numeric = vec![true; headers.len()];
        t.numeric[0] = false;
        for (i, r) in self.rows.iter().enumerate() {
            let mut row = vec![r.clone()];
            row.extend(self.values.row(i).iter().map(|v| format!("{v:.3}")));
            // One cell per column by construction.
            t.rows.push(row);
        }
        t
    }

    /// A heatmap figure (viridis, values written in the cells when they fit).
    pub fn heatmap(&self, title: &str) -> Result<Figure> {
        let values = self
            .values
            .outer_iter()
            .map(|r| r.iter().map(|v| *v as f64).collect())
            .collect();
        heatmap(
            title,
            self.rows.clone(),
            self.cols.clone(),
            values,
            None,
            "cosine",
            "Raw cosine of mean-pooled embeddings",
        )
    }
}

impl Html for CosineMatrix {
    fn to_html(&self) -> String {
        self.table().to_html()
    }
}

/// How each string tokenises, one row per string.
pub fn token_table(stats: &[TokenStats]) -> Table {
    let mut t = Table::new(&[
        "text",
        "tokens",
        "pieces",
        "continuation",
        "unknown",
        "single token",
    ])
    .with_max_rows(usize::MAX);
    t.numeric = vec![false, true, false, true, true, false];
    for s in stats {
        t.rows.push(vec![
            s.text.clone(),
            s.n_tokens.to_string(),
            s.pieces.join(" · "),
            s.n_continuation.to_string(),
            s.n_unknown.to_string(),
            if s.single_token { "yes" } else { "no" }.into(),
        ]);
    }
    t
}

/// A list of labels (with identifiers) and their embeddings, to search by meaning.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub labels: Vec<String>,
    pub ids: Vec<String>,
    pub vectors: Array2<f32>,
}

impl Vocabulary {
    /// Embeds `labels` ([`embed_options`]; the cache makes a second run fast).
    /// `ids[i]` names `labels[i]`.
    pub fn embed(model: &Model, labels: Vec<String>, ids: Vec<String>) -> Result<Vocabulary> {
        crate::ensure!(
            labels.len() == ids.len(),
            Error::param(
                "ids",
                format!("{} ids for {} labels", ids.len(), labels.len())
            )
        );
        let opts = embed_options(model)?.with_progress(false);
        let vectors = model.embed(&labels, &opts)?.vectors;
        Ok(Vocabulary {
            labels,
            ids,
            vectors,
        })
    }

    /// The `k` entries nearest to `query` (raw cosine), as a table.
    pub fn nearest(&self, model: &Model, query: &str, k: usize) -> Result<Table> {
        let n = self.vectors.nrows();
        crate::ensure!(
            self.labels.len() == n && self.ids.len() == n,
            Error::data(
                "vocabulary",
                format!(
                    "{} labels and {} ids for {n} vectors; expected one of each per vector",
                    self.labels.len(),
                    self.ids.len()
                )
            )
        );
        let q = embed(model, &[query])?;
        let mut t = Table::new(&["rank", "label", "id", "cosine"]).with_max_rows(usize::MAX);
        t.numeric = vec![true, false, false, true];
        let top = nearest(q.row(0), self.vectors.view(), k)?;
        for (r, (i, s)) in top.into_iter().enumerate() {
            t.rows.push(vec![
                (r + 1).to_string(),
                self.labels[i].clone(),
                self.ids[i].clone(),
                format!("{s:.3}"),
            ]);
        }
        Ok(t.with_caption(&format!("nearest to {query:?}")))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn df_to_html_escapes_and_aligns() {
        let df = df!("name" => ["<x>", "b"], "n" => [1.5f64, 2.0]).unwrap();
        let h = Html::to_html(&df);
        assert!(h.contains("<td>&lt;x&gt;</td>"), "{h}");
        assert!(
            h.contains("<td style=\"text-align:right\">1.500</td>"),
            "{h}"
        );
        assert!(h.starts_with("<table>") && h.ends_with("</table>"));
    }

    #[test]
    fn long_tables_are_cut_in_the_middle() {
        let mut t = Table::new(&["i"]).with_max_rows(4);
        for i in 0..10 {
            t.push(vec![i.to_string()]).unwrap();
        }
        let h = t.to_html();
        assert!(h.contains("<td>0</td>") && h.contains("<td>1</td>") && h.contains("<td>9</td>"));
        assert!(!h.contains("<td>5</td>"));
        assert!(h.contains("… 6 more rows …"));
    }

    #[test]
    fn rows_need_one_cell_per_column() {
        let mut t = Table::new(&["a", "b"]);
        let err = t.push(vec!["x".into()]).unwrap_err().to_string();
        assert!(err.contains("1 cells for the 2 columns"), "{err}");
        assert!(t.rows.is_empty());
        t.push_numbers("x", &[0.5]).unwrap();
        assert_eq!(t.numeric, vec![false, true]);
        assert!(t.push_numbers("y", &[1.0, 2.0]).is_err());
    }

    #[test]
    fn several_values_show_as_one_block() {
        let tables = [Table::new(&["a"]).with_caption("<1>"), Table::new(&["b"])];
        let h = tables.to_html();
        assert_eq!(h.matches("<table>").count(), 2, "{h}");
        assert!(h.contains("<caption>&lt;1&gt;</caption>") && h.contains("<br>"));
    }

    #[test]
    fn cosine_matrix_table() {
        // A zero row has cosine 0 with everything (metrics::cosine's rule).
        let a = ndarray::array![[1.0f32, 0.0], [0.0, 0.0]];
        let m = CosineMatrix::from_vectors(
            vec!["a".into(), "zero".into()],
            vec!["a".into()],
            a.view(),
            a.slice(ndarray::s![..1, ..]),
        )
        .unwrap();
        assert_eq!(m.values, ndarray::array![[1.0], [0.0]]);
        let h = m.to_html();
        assert!(h.contains("1.000") && h.contains("<td>zero</td>"), "{h}");
        assert!(m.heatmap("t").is_ok());
    }

    #[test]
    fn cosine_matrix_against_hand_computed_values() {
        // cos((3,4),(4,3)) = 24/25; cos((3,4),(0,-2)) = -4/5; cos((1,0),(4,3)) = 4/5.
        let a = ndarray::array![[3.0f32, 4.0], [1.0, 0.0]];
        let b = ndarray::array![[4.0f32, 3.0], [0.0, -2.0]];
        let m = CosineMatrix::from_vectors(
            vec!["p".into(), "q".into()],
            vec!["r".into(), "s".into()],
            a.view(),
            b.view(),
        )
        .unwrap();
        let want = ndarray::array![[0.96f32, -0.8], [0.8, 0.0]];
        assert!(
            (&m.values - &want).iter().all(|d| d.abs() < 1e-6),
            "{:?}",
            m.values
        );
    }

    #[test]
    fn mismatched_or_non_finite_vectors_are_errors() {
        let a = ndarray::array![[1.0f32, 0.0]];
        let wide = ndarray::array![[1.0f32, 0.0, 0.0]];
        let nan = ndarray::array![[f32::NAN, 0.0]];
        let labels = |n: &str| vec![n.to_string()];
        let err = CosineMatrix::from_vectors(labels("a"), labels("b"), a.view(), wide.view())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dimension 2 against vectors of dimension 3"),
            "{err}"
        );
        let err = CosineMatrix::from_vectors(
            vec!["a".into(), "b".into()],
            labels("c"),
            a.view(),
            a.view(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("2 row labels for 1 row vectors"), "{err}");
        let err = CosineMatrix::from_vectors(labels("a"), labels("b"), a.view(), nan.view())
            .unwrap_err()
            .to_string();
        assert!(err.contains("second") && err.contains("row 0"), "{err}");
    }
}
