//! Helpers for evcxr (Rust Jupyter) notebooks: HTML tables, cosine matrices,
//! nearest neighbours in a vocabulary and a labelled scatter. Every value here has
//! an `evcxr_display` method, so ending a cell with it shows it inline; all take
//! concrete types (`&[&str]`, `&[String]`, array views), which keeps the code a
//! notebook cell has to compile small.
//!
//! evcxr compiles every cell into its own library with its own copy of lexalign,
//! rayon and ort. A [`Model`] therefore keeps no thread pool or runtime handle tied
//! to the cell that loaded it: load it once and use it from any later cell. A polars
//! `DataFrame` shows as HTML through the [`DataFrameHtml`] trait.
//!
//! ```
//! use lexalign::notebook::Table;
//! let mut t = Table::new(&["term", "id"]);
//! t.push(vec!["Seizure".into(), "HP:0001250".into()]);
//! t.push(vec!["<b>".into(), "a & b".into()]);
//! let html = t.to_html();
//! assert!(html.contains("<td>HP:0001250</td>"));
//! assert!(html.contains("&lt;b&gt;") && html.contains("a &amp; b"));
//! ```
//!
//! In a notebook (needs the installed model):
//!
//! ```no_run
//! use lexalign::embed::Model;
//! use lexalign::notebook::CosineMatrix;
//! let model = Model::load_default()?;
//! let m = CosineMatrix::compute(&model, &["BRCA1", "Seizure"], &["HGNC:1100", "HP:0001250"])?;
//! m.evcxr_display(); // an HTML table
//! m.heatmap("Names vs identifiers")?.evcxr_display(); // a PNG
//! # Ok::<(), lexalign::Error>(())
//! ```

use std::fmt::Write as _;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use polars::prelude::{AnyValue, DataFrame};

use crate::embed::{EmbedOptions, Model, TokenStats};
use crate::error::{Error, Result};
use crate::plot::{heatmap, Figure, PALETTE};

/// Rows shown by default before a table is cut (first and last halves kept).
pub const DEFAULT_MAX_ROWS: usize = 40;

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

fn any_to_string(v: &AnyValue) -> (String, bool) {
    match v {
        AnyValue::Null => (String::new(), false),
        AnyValue::String(s) => (s.to_string(), false),
        AnyValue::StringOwned(s) => (s.to_string(), false),
        AnyValue::Boolean(b) => (b.to_string(), false),
        AnyValue::Float64(x) => (fmt_num(*x), true),
        AnyValue::Float32(x) => (fmt_num(*x as f64), true),
        AnyValue::Int8(_)
        | AnyValue::Int16(_)
        | AnyValue::Int32(_)
        | AnyValue::Int64(_)
        | AnyValue::UInt8(_)
        | AnyValue::UInt16(_)
        | AnyValue::UInt32(_)
        | AnyValue::UInt64(_) => (v.to_string(), true),
        other => (other.to_string(), false),
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
                row.push(any_to_string(&v).0);
            }
            t.rows.push(row);
        }
        Ok(t)
    }

    /// Appends a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<String>) {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "a row needs one cell per column ({:?})",
            self.columns
        );
        self.rows.push(row);
    }

    /// Appends a row of a label followed by numbers (formatted by [`fmt_num`]),
    /// marking those columns numeric.
    pub fn push_numbers(&mut self, label: &str, values: &[f64]) {
        let mut row = vec![label.to_string()];
        row.extend(values.iter().map(|v| fmt_num(*v)));
        for j in 1..row.len().min(self.numeric.len()) {
            self.numeric[j] = true;
        }
        self.push(row);
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

    /// The table as one HTML `<table>` element, every cell escaped.
    pub fn to_html(&self) -> String {
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

    fn align(&self, j: usize) -> &'static str {
        if self.numeric.get(j).copied().unwrap_or(false) {
            " style=\"text-align:right\""
        } else {
            ""
        }
    }

    /// Shows the table inline in evcxr (MIME type text/html).
    pub fn evcxr_display(&self) {
        show_html(&self.to_html());
    }
}

/// Shows raw HTML inline in evcxr (the caller escapes any text it inserts).
pub fn show_html(html: &str) {
    println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
}

/// Shows a small heading inline (escaped), e.g. a figure's name above it.
pub fn heading(text: &str) {
    show_html(&format!("<h4>{}</h4>", escape_html(text)));
}

/// A data frame as an HTML table (at most [`DEFAULT_MAX_ROWS`] rows shown).
pub fn html(df: &DataFrame) -> Result<String> {
    Ok(Table::from_df(df)?.to_html())
}

/// Shows a data frame inline in evcxr as an HTML table.
pub fn show(df: &DataFrame) -> Result<()> {
    Table::from_df(df)?.evcxr_display();
    Ok(())
}

/// Shows a polars `DataFrame` that ends an evcxr cell as an HTML table (evcxr calls
/// `.evcxr_display()` on a cell's last value). Bring the trait into scope with
/// `use lexalign::notebook::DataFrameHtml;`.
///
/// ```
/// use lexalign::notebook::DataFrameHtml;
/// use polars::prelude::*;
/// let df = df!("id" => ["HP:0001250"], "label" => ["Seizure"]).unwrap();
/// assert!(df.to_html().contains("<td>Seizure</td>"));
/// df.evcxr_display(); // prints the EVCXR_BEGIN_CONTENT text/html block
/// ```
pub trait DataFrameHtml {
    /// The frame as an HTML table (first and last rows when long).
    fn to_html(&self) -> String;
    /// Shows the frame inline in evcxr.
    fn evcxr_display(&self);
}

impl DataFrameHtml for DataFrame {
    fn to_html(&self) -> String {
        match Table::from_df(self) {
            Ok(t) => t.to_html(),
            Err(e) => format!(
                "<p>data frame could not be shown: {}</p>",
                escape_html(&e.to_string())
            ),
        }
    }

    fn evcxr_display(&self) {
        show_html(&DataFrameHtml::to_html(self));
    }
}

/// Rows of `x` scaled to unit length; zero rows stay zero.
fn unit(x: ArrayView2<f32>) -> Array2<f32> {
    let mut u = x.to_owned();
    for mut row in u.axis_iter_mut(Axis(0)) {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 0.0 {
            row.mapv_inplace(|v| v / n);
        }
    }
    u
}

/// Raw cosine of every row of `a` with every row of `b` (`a.nrows() × b.nrows()`);
/// a zero row has cosine 0 with everything. Rows of different lengths, or a
/// non-finite value, are an error.
///
/// ```
/// use ndarray::array;
/// let a = array![[1.0f32, 0.0], [0.0, 2.0]];
/// let c = lexalign::notebook::cosine(a.view(), a.view())?;
/// assert_eq!(c, array![[1.0, 0.0], [0.0, 1.0]]);
/// assert!(lexalign::notebook::cosine(a.view(), array![[1.0f32, 0.0, 0.0]].view()).is_err());
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn cosine(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Result<Array2<f32>> {
    check_vectors("cosine", a, b)?;
    Ok(unit(a).dot(&unit(b).t()))
}

/// Both sides have rows of one length and only finite values.
fn check_vectors(context: &str, a: ArrayView2<f32>, b: ArrayView2<f32>) -> Result<()> {
    if a.ncols() != b.ncols() {
        return Err(Error::data(
            context,
            format!(
                "vectors of dimension {} against vectors of dimension {}; expected one dimension",
                a.ncols(),
                b.ncols()
            ),
        ));
    }
    for (side, x) in [("first", a), ("second", b)] {
        if let Some((i, _)) = x
            .outer_iter()
            .enumerate()
            .find(|(_, r)| r.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::data(
                context,
                format!("row {i} of the {side} matrix has a NaN or infinite value"),
            ));
        }
    }
    Ok(())
}

/// Embeds strings with the default options (mean pooling, cache on), row i for
/// `texts[i]`.
pub fn embed(model: &Model, texts: &[&str]) -> Result<Array2<f32>> {
    Ok(model.embed(texts, &EmbedOptions::default())?.vectors)
}

/// [`embed`] for owned strings (e.g. a column read from a file).
pub fn embed_strings(model: &Model, texts: &[String]) -> Result<Array2<f32>> {
    Ok(model.embed(texts, &EmbedOptions::default())?.vectors)
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
            if labels != n {
                return Err(Error::param("labels", format!("{labels} {what} labels for {n} {what} vectors; expected one label per vector")));
            }
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
            t.push(row);
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

    /// Shows the matrix as an HTML table.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
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
        t.push(vec![
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

/// Indices and cosines of the `k` rows of `candidates` closest to `query` by raw
/// cosine, best first (ties keep candidate order).
///
/// ```
/// use ndarray::array;
/// let c = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let q = array![1.0f32, 0.1];
/// let top = lexalign::notebook::nearest(q.view(), c.view(), 2)?;
/// assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![0, 2]);
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn nearest(
    query: ArrayView1<f32>,
    candidates: ArrayView2<f32>,
    k: usize,
) -> Result<Vec<(usize, f32)>> {
    let q = query.insert_axis(Axis(0));
    check_vectors("nearest", q, candidates)?;
    let sims = unit(candidates).dot(&unit(q).row(0));
    let mut idx: Vec<usize> = (0..sims.len()).collect();
    idx.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
    Ok(idx.into_iter().take(k).map(|i| (i, sims[i])).collect())
}

/// A list of labels (with identifiers) and their embeddings, to search by meaning.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub labels: Vec<String>,
    pub ids: Vec<String>,
    pub vectors: Array2<f32>,
}

impl Vocabulary {
    /// Embeds `labels` (default options; the cache makes a second run fast).
    /// `ids[i]` names `labels[i]`.
    pub fn embed(model: &Model, labels: Vec<String>, ids: Vec<String>) -> Result<Vocabulary> {
        if labels.len() != ids.len() {
            return Err(Error::param(
                "ids",
                format!("{} ids for {} labels", ids.len(), labels.len()),
            ));
        }
        let opts = EmbedOptions::default().with_progress(false);
        let vectors = model.embed(&labels, &opts)?.vectors;
        Ok(Vocabulary {
            labels,
            ids,
            vectors,
        })
    }

    /// The `k` entries nearest to `query` (raw cosine), as a table.
    pub fn nearest(&self, model: &Model, query: &str, k: usize) -> Result<Table> {
        let q = embed(model, &[query])?;
        let mut t = Table::new(&["rank", "label", "id", "cosine"]).with_max_rows(usize::MAX);
        t.numeric = vec![true, false, false, true];
        let top = nearest(q.row(0), self.vectors.view(), k)?;
        for (r, (i, s)) in top.into_iter().enumerate() {
            t.push(vec![
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

/// An SVG drawing shown inline (MIME type image/svg+xml).
#[derive(Debug, Clone)]
pub struct Svg(pub String);

impl Svg {
    /// Shows the drawing inline in evcxr.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.0
        );
    }
}

/// A scatter plot with a text label beside every point, coloured by group (for
/// a handful to a few dozen points, e.g. a PCA of chosen terms and identifiers).
/// Labels are placed so that they overlap neither each other nor the points where
/// there is room; a label moved away from its point gets a thin leader line.
///
/// ```
/// let svg = lexalign::notebook::labelled_scatter(
///     "PCA", &[(0.0, 1.0), (1.0, 0.0)], &["Seizure".into(), "HP:0001250".into()],
///     &["label".into(), "id".into()], "PC1", "PC2").unwrap();
/// assert!(svg.0.starts_with("<svg") && svg.0.contains(">HP:0001250</text>"));
/// ```
pub fn labelled_scatter(
    title: &str,
    points: &[(f64, f64)],
    labels: &[String],
    groups: &[String],
    x_label: &str,
    y_label: &str,
) -> Result<Svg> {
    if points.is_empty() {
        return Err(Error::data(title, "no points to plot"));
    }
    if labels.len() != points.len() || groups.len() != points.len() {
        return Err(Error::param(
            "labels",
            format!(
                "{} points, {} labels, {} groups; need one of each per point",
                points.len(),
                labels.len(),
                groups.len()
            ),
        ));
    }
    if let Some(p) = points
        .iter()
        .find(|p| !(p.0.is_finite() && p.1.is_finite()))
    {
        return Err(Error::data(title, format!("point {p:?} is not finite")));
    }
    let mut group_names: Vec<&str> = Vec::new();
    for g in groups {
        if !group_names.contains(&g.as_str()) {
            group_names.push(g);
        }
    }
    let (w, h) = (820.0, 580.0);
    let (left, right, top, bottom) = (70.0, 150.0, 40.0, 60.0);
    let span = |f: fn(&(f64, f64)) -> f64| {
        let lo = points.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        let pad = if hi > lo { (hi - lo) * 0.08 } else { 1.0 };
        (lo - pad, hi + pad)
    };
    let (x0, x1) = span(|p| p.0);
    let (y0, y1) = span(|p| p.1);
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom);
    let color = |g: &str| {
        let i = group_names.iter().position(|n| *n == g).unwrap_or(0);
        let c = PALETTE[i % PALETTE.len()];
        format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Arial, sans-serif\">"
    );
    let _ = writeln!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        escape_html(title)
    );
    // Grid lines and tick labels at 1, 2 or 5 times a power of ten.
    for (lo, hi, vertical) in [(x0, x1, true), (y0, y1, false)] {
        for v in ticks(lo, hi) {
            let text = crate::plot::layout::fmt_tick(&v);
            if vertical {
                let x = px(v);
                let _ = writeln!(
                    s,
                    "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{}\" stroke=\"#e4e4e4\"/>",
                    h - bottom
                );
                let _ = writeln!(s, "<text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" fill=\"#444\" text-anchor=\"middle\">{text}</text>", h - bottom + 15.0);
            } else {
                let y = py(v);
                let _ = writeln!(s, "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>", w - right);
                let _ = writeln!(s, "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" fill=\"#444\" text-anchor=\"end\">{text}</text>", left - 5.0, y + 4.0);
            }
        }
    }
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#555\"/>",
        w - left - right,
        h - top - bottom
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        h - 14.0,
        escape_html(x_label)
    );
    let _ = writeln!(
        s,
        "<text x=\"18\" y=\"{0}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}</text>",
        (top + h - bottom) / 2.0,
        escape_html(y_label)
    );
    let dots: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (px(x), py(y))).collect();
    let widths: Vec<f64> = labels.iter().map(|l| label_width(l)).collect();
    let spots = place_labels(&dots, &widths, (left, top, w - right, h - bottom));
    for (i, (&(cx, cy), spot)) in dots.iter().zip(&spots).enumerate() {
        let c = color(&groups[i]);
        if spot.leader {
            let (lx, ly) = spot.nearest_edge((cx, cy));
            let _ = writeln!(s, "<line x1=\"{cx:.1}\" y1=\"{cy:.1}\" x2=\"{lx:.1}\" y2=\"{ly:.1}\" stroke=\"{c}\" stroke-width=\"0.7\" opacity=\"0.7\"/>");
        }
    }
    for (i, ((&(cx, cy), spot), label)) in dots.iter().zip(&spots).zip(labels).enumerate() {
        let c = color(&groups[i]);
        let _ = writeln!(
            s,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"{c}\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{LABEL_FONT}\" fill=\"{c}\">{}</text>",
            spot.x,
            spot.y + LABEL_ASCENT,
            escape_html(label)
        );
    }
    for (i, g) in group_names.iter().enumerate() {
        let y = top + 14.0 + 20.0 * i as f64;
        let c = color(g);
        let _ = writeln!(
            s,
            "<circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"{c}\"/>",
            w - right + 20.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            w - right + 30.0,
            y + 4.0,
            escape_html(g)
        );
    }
    s.push_str("</svg>");
    Ok(Svg(s))
}

const LABEL_FONT: f64 = 11.0;
/// Height of a label's box and the baseline's offset from its top, in pixels.
const LABEL_HEIGHT: f64 = 13.0;
const LABEL_ASCENT: f64 = 10.0;

/// Width of a label in pixels: DejaVu Sans advances average ~0.6 em, wider for
/// capitals and digits, which identifiers are made of.
fn label_width(label: &str) -> f64 {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                0.68
            } else if c == ' ' || c == ':' || c == '.' {
                0.34
            } else {
                0.58
            }
        })
        .sum::<f64>()
        * LABEL_FONT
}

/// Tick positions at a 1, 2 or 5 times a power-of-ten step inside `lo..=hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let step = crate::plot::layout::nice_step((hi - lo) / 6.0);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Where one label goes: its box's top-left corner, and whether it sits away from
/// its point (drawn with a leader line).
#[derive(Debug, Clone, Copy, PartialEq)]
struct LabelSpot {
    x: f64,
    y: f64,
    w: f64,
    leader: bool,
}

impl LabelSpot {
    fn overlap(&self, o: &LabelSpot) -> f64 {
        let dx = (self.x + self.w).min(o.x + o.w) - self.x.max(o.x);
        let dy = (self.y + LABEL_HEIGHT).min(o.y + LABEL_HEIGHT) - self.y.max(o.y);
        dx.max(0.0) * dy.max(0.0)
    }

    /// Overlap with a point's dot (a square of side 10 around it).
    fn covers(&self, (px, py): (f64, f64)) -> f64 {
        let dot = LabelSpot {
            x: px - 5.0,
            y: py - LABEL_HEIGHT / 2.0,
            w: 10.0,
            leader: false,
        };
        self.overlap(&dot)
    }

    /// The point of the box nearest to `(px, py)`: where a leader line from it ends.
    fn nearest_edge(&self, (px, py): (f64, f64)) -> (f64, f64) {
        (
            px.clamp(self.x, self.x + self.w),
            py.clamp(self.y, self.y + LABEL_HEIGHT),
        )
    }
}

/// Greedy label placement: for each point (in input order), the first of a ring of
/// candidate boxes, nearest first, that stays inside `area` and overlaps no dot and
/// no label placed so far; when every candidate collides, the one with the least
/// overlap. Positions are pixels, `area` is (left, top, right, bottom).
fn place_labels(dots: &[(f64, f64)], widths: &[f64], area: (f64, f64, f64, f64)) -> Vec<LabelSpot> {
    let (al, at, ar, ab) = area;
    let mut placed: Vec<LabelSpot> = Vec::with_capacity(dots.len());
    for (i, (&(cx, cy), &w)) in dots.iter().zip(widths).enumerate() {
        let hh = LABEL_HEIGHT / 2.0;
        let mut candidates = vec![
            (cx + 7.0, cy - hh),                     // right
            (cx - 7.0 - w, cy - hh),                 // left
            (cx - w / 2.0, cy - 7.0 - LABEL_HEIGHT), // above
            (cx - w / 2.0, cy + 7.0),                // below
            (cx + 5.0, cy - 5.0 - LABEL_HEIGHT),     // upper right
            (cx + 5.0, cy + 5.0),                    // lower right
            (cx - 5.0 - w, cy - 5.0 - LABEL_HEIGHT), // upper left
            (cx - 5.0 - w, cy + 5.0),                // lower left
        ];
        let near = candidates.len();
        // Farther rings: the label's centre on circles around the point.
        for r in [28.0, 42.0, 56.0, 72.0, 90.0] {
            for k in 0..16 {
                let a = std::f64::consts::PI * 2.0 * k as f64 / 16.0;
                candidates.push((cx + r * a.cos() - w / 2.0, cy - r * a.sin() - hh));
            }
        }
        let mut best: Option<(f64, LabelSpot)> = None;
        for (k, &(x, y)) in candidates.iter().enumerate() {
            let spot = LabelSpot {
                x,
                y,
                w,
                leader: k >= near,
            };
            let outside = (al - x).max(0.0)
                + (x + w - ar).max(0.0)
                + (at - y).max(0.0)
                + (y + LABEL_HEIGHT - ab).max(0.0);
            let cost = placed.iter().map(|p| spot.overlap(p)).sum::<f64>()
                + dots
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &d)| spot.covers(d))
                    .sum::<f64>()
                + outside * 1000.0;
            if cost == 0.0 {
                best = Some((0.0, spot));
                break;
            }
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, spot));
            }
        }
        placed.push(best.map(|(_, s)| s).expect("at least one candidate"));
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn df_to_html_escapes_and_aligns() {
        let df = df!("name" => ["<x>", "b"], "n" => [1.5f64, 2.0]).unwrap();
        let h = html(&df).unwrap();
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
            t.push(vec![i.to_string()]);
        }
        let h = t.to_html();
        assert!(h.contains("<td>0</td>") && h.contains("<td>1</td>") && h.contains("<td>9</td>"));
        assert!(!h.contains("<td>5</td>"));
        assert!(h.contains("… 6 more rows …"));
    }

    #[test]
    fn cosine_matrix_table() {
        let a = ndarray::array![[1.0f32, 0.0], [0.0, 0.0]];
        let m = CosineMatrix::from_vectors(
            vec!["a".into(), "zero".into()],
            vec!["a".into()],
            a.view(),
            a.slice(ndarray::s![..1, ..]),
        )
        .unwrap();
        assert_eq!(m.values, ndarray::array![[1.0], [0.0]]);
        assert!(m.table().to_html().contains("1.000"));
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
        let err =
            CosineMatrix::from_vectors(vec!["a".into()], vec!["b".into()], a.view(), wide.view())
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("dimension 2 against vectors of dimension 3"),
            "{err}"
        );
        let err = CosineMatrix::from_vectors(
            vec!["a".into(), "b".into()],
            vec!["c".into()],
            a.view(),
            a.view(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("2 row labels for 1 row vectors"),
            "{err}"
        );
        let err = cosine(a.view(), nan.view()).unwrap_err();
        assert!(
            err.to_string().contains("row 0 of the second matrix"),
            "{err}"
        );
        assert!(nearest(nan.row(0), a.view(), 1).is_err());
        assert!(nearest(a.row(0), wide.view(), 1).is_err());
    }

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        // Span 8.2 / 6 = 1.37 → step 1; span 0.56 / 6 = 0.093 → step 0.1.
        assert_eq!(
            ticks(-4.3, 3.9),
            vec![-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        );
        let t = ticks(0.05, 0.61);
        let want = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        assert_eq!(t.len(), want.len(), "{t:?}");
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
    }

    #[test]
    fn labels_of_a_tight_cluster_do_not_overlap() {
        // Six points within 6 px of each other (identifiers that PCA puts together),
        // plus one far away: every label gets its own box inside the area.
        let dots = [
            (400.0, 300.0),
            (403.0, 302.0),
            (406.0, 299.0),
            (401.0, 305.0),
            (404.0, 296.0),
            (405.0, 303.0),
            (100.0, 100.0),
        ];
        let widths = [80.0; 7];
        let area = (50.0, 40.0, 700.0, 540.0);
        let spots = place_labels(&dots, &widths, area);
        for (i, a) in spots.iter().enumerate() {
            assert!(
                a.x >= area.0
                    && a.x + a.w <= area.2
                    && a.y >= area.1
                    && a.y + LABEL_HEIGHT <= area.3,
                "{a:?}"
            );
            for b in &spots[i + 1..] {
                assert_eq!(a.overlap(b), 0.0, "{a:?} overlaps {b:?}");
            }
            for (j, &d) in dots.iter().enumerate() {
                if j != i {
                    assert_eq!(a.covers(d), 0.0, "label {i} covers point {j}");
                }
            }
        }
        // A lone point keeps its label right beside it, without a leader line.
        assert_eq!(
            spots[6],
            LabelSpot {
                x: 107.0,
                y: 100.0 - LABEL_HEIGHT / 2.0,
                w: 80.0,
                leader: false
            }
        );
    }

    #[test]
    fn labels_stay_inside_at_the_right_edge() {
        let spots = place_labels(&[(695.0, 300.0)], &[120.0], (50.0, 40.0, 700.0, 540.0));
        assert!(spots[0].x + spots[0].w <= 700.0, "{:?}", spots[0]);
    }

    #[test]
    fn scatter_rejects_bad_input() {
        assert!(labelled_scatter("t", &[], &[], &[], "x", "y").is_err());
        assert!(labelled_scatter(
            "t",
            &[(f64::NAN, 0.0)],
            &["a".into()],
            &["g".into()],
            "x",
            "y"
        )
        .is_err());
        assert!(labelled_scatter("t", &[(0.0, 0.0)], &[], &["g".into()], "x", "y").is_err());
    }
}
