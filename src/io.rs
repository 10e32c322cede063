//! File formats at the edges: reading string lists and tables, and writing every
//! output atomically (a temp file in the target directory, then rename), so an
//! interrupted run never leaves a half-written file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::*;

use crate::error::{Error, Location, Result};

mod paths;
mod set;
pub use paths::{refuse_overwrite, same_file};
pub use set::OutputSet;

/// The folder an output file `path` goes into; it must exist.
pub(crate) fn output_dir(path: &Path) -> Result<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("output directory {} does not exist", dir.display()),
            ),
        ));
    }
    Ok(dir)
}

/// Writes `path` atomically: `write` fills a temp file beside it, which is renamed
/// over `path` only when `write` succeeds. The parent directory must exist.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut fs::File) -> Result<()>,
{
    let dir = output_dir(path)?;
    // A device or pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written in place:
    // renaming a temp file over it would replace the device itself (as root,
    // `--json /dev/null` would turn /dev/null into a regular file).
    if fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        return write(&mut f);
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".lexalign-").suffix(".tmp");
    // Outputs are ordinary files: 0666 less the umask (0644 under 022), not
    // tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    // Made and locked under the folder's shared lock: a run sweeping the folder
    // (exclusive lock) never takes this file for one a killed run left.
    let folder = set::lock_folder(&dir, false).ok();
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| Error::io(&dir, e))?;
    let _ = tmp.as_file().try_lock();
    drop(folder);
    write(tmp.as_file_mut())?;
    // On the disk before the rename, so a crash leaves the old file or the new one.
    tmp.as_file_mut()
        .sync_all()
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(&dir);
    Ok(())
}

/// Test hook (debug builds): the process stops itself (SIGSTOP) so a test can
/// signal, kill or race it at a known point; `SIGCONT` resumes it.
#[cfg(debug_assertions)]
pub(crate) fn stop_here() {
    #[cfg(unix)]
    // SAFETY: raise has no preconditions.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
}

/// Makes a rename in `dir` durable. Best effort: some file systems cannot sync a
/// directory, and the file itself is already on the disk.
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Writes bytes atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |f| f.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// Writes a JSON value atomically, pretty-printed.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::json(path, e))?;
    write_bytes_atomic(path, text.as_bytes())
}

/// Writes a float32 matrix as a NumPy `.npy` file (C order), atomically.
pub fn write_npy(path: &Path, array: &Array2<f32>) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    write_atomic(path, |f| {
        array
            .write_npy(std::io::BufWriter::new(f))
            .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
    })
}

/// Reads a float32 or float64 2-D `.npy` file as f32.
pub fn read_npy(path: &Path) -> Result<Array2<f32>> {
    use ndarray_npy::{ReadNpyError, ReadNpyExt};
    let open = || fs::File::open(path).map_err(|e| Error::io(path, e));
    if open()?.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::parse_file(
            path,
            "is a directory; expected a .npy file",
        ));
    }
    // float64 is tried only when the descriptor is the one thing wrong, so any
    // other fault is reported as found in the file, not as a float64 mismatch.
    let err = match Array2::<f32>::read_npy(open()?) {
        Ok(a) => return Ok(a),
        Err(ReadNpyError::WrongDescriptor(_)) => match Array2::<f64>::read_npy(open()?) {
            Ok(a) => return Ok(a.mapv(|v| v as f32)),
            Err(e) => e,
        },
        Err(e) => e,
    };
    let found = match err {
        ReadNpyError::Io(e) => return Err(Error::io(path, e)),
        ReadNpyError::WrongNdim(_, ndim) => format!("a {ndim}-D array"),
        ReadNpyError::WrongDescriptor(d) => format!("dtype {d}"),
        ReadNpyError::MissingData => {
            "truncated data: the file ends before all the values its header describes".into()
        }
        ReadNpyError::ExtraBytes(n) => format!("{n} bytes after the data the header describes"),
        ReadNpyError::ParseHeader(e) => format!("no valid .npy header ({e})"),
        other => other.to_string(),
    };
    Err(Error::parse_file(
        path,
        format!(
            "expected a 2-D float32 ('<f4') or float64 ('<f8') .npy matrix [n, dim]; found {found}"
        ),
    ))
}

/// Writes a DataFrame as CSV or Parquet (chosen by extension), atomically.
pub fn write_table(path: &Path, df: &mut DataFrame) -> Result<()> {
    match extension(path).as_str() {
        "csv" => write_atomic(path, |f| {
            CsvWriter::new(f)
                .finish(df)
                .map_err(|e| Error::polars(path, e))
        }),
        "tsv" => write_atomic(path, |f| {
            CsvWriter::new(f)
                .with_separator(b'\t')
                .finish(df)
                .map_err(|e| Error::polars(path, e))
        }),
        "parquet" => write_atomic(path, |f| {
            ParquetWriter::new(f)
                .finish(df)
                .map(|_| ())
                .map_err(|e| Error::polars(path, e))
        }),
        other => Err(Error::param(
            "output",
            format!(
                "{}: unsupported table extension {other:?}; expected .csv, .tsv or .parquet",
                path.display()
            ),
        )),
    }
}

/// Reads a CSV, TSV or Parquet table (chosen by extension).
pub fn read_table(path: &Path) -> Result<DataFrame> {
    read_table_with(path, Some(10_000))
}

/// Reads a table whose CSV/TSV columns are all kept as text, as written: `0012`
/// stays `0012`, and a column of mixed numbers and words is not a parse error.
pub fn read_text_table(path: &Path) -> Result<DataFrame> {
    read_table_with(path, Some(0))
}

/// `infer` rows guess each CSV column's type; `Some(0)` reads every column as text.
fn read_table_with(path: &Path, infer: Option<usize>) -> Result<DataFrame> {
    if !path.is_file() {
        let problem = if path.is_dir() {
            "is a directory; expected a table file"
        } else {
            "no such file"
        };
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, problem),
        ));
    }
    let df = match extension(path).as_str() {
        "parquet" => {
            let f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
            // polars-parquet 0.55 panics on some damaged footers ("thrift bool field"):
            // a damaged file is an error here, not a crash.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ParquetReader::new(f).finish()
            }))
            .map_err(|_| {
                Error::parse_file(
                    path,
                    "not a readable Parquet file (its metadata is damaged); rewrite it or use CSV/TSV",
                )
            })?
            .map_err(|e| Error::polars(path, e))?
        }
        ext @ ("csv" | "tsv" | "tab") => {
            let sep = if ext == "csv" { b',' } else { b'\t' };
            let text = read_text(path)?;
            check_header(path, &text, sep)?;
            CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(infer)
                .with_parse_options(CsvParseOptions::default().with_separator(sep))
                .into_reader_with_file_handle(std::io::Cursor::new(text.into_bytes()))
                .finish()
                .map_err(|e| Error::polars(path, e))?
        }
        other => {
            return Err(Error::param(
                "input",
                format!(
                    "{}: unsupported table extension {other:?}; expected .csv, .tsv or .parquet",
                    path.display()
                ),
            ))
        }
    };
    Ok(df)
}

/// A text input's contents: UTF-8 checked (an error names the line and byte of
/// the first bad one), a leading byte-order mark dropped. Every plain-text and
/// CSV/TSV input is read through here, so the two agree.
fn read_text(path: &Path) -> Result<String> {
    let mut bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let bad = e.utf8_error().valid_up_to();
        let line_start = bytes[..bad]
            .iter()
            .rposition(|&b| b == b'\n' || b == b'\r')
            .map_or(0, |i| i + 1);
        let line = 1 + line_breaks(&bytes[..bad]);
        Error::parse_at(
            path,
            Location::at(line, bad - line_start + 1),
            format!(
                "byte 0x{:02X} is not UTF-8; expected UTF-8 text (re-save the file as UTF-8: it may be Latin-1 or Windows-1252)",
                bytes[bad]
            ),
        )
    })
}

/// Line breaks in `bytes`: `\n`, `\r\n` and a lone `\r` each count once.
fn line_breaks(bytes: &[u8]) -> usize {
    let mut n = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

/// The physical line (1-based) where each record of a CSV/TSV text starts
/// (record 0 is the header); quoted cells may span lines, blank lines are no
/// records.
fn record_lines(text: &str, sep: u8) -> Vec<usize> {
    let _ = sep;
    let bytes = text.as_bytes();
    let (mut starts, mut line, mut quoted, mut at_start) = (Vec::new(), 1, false, true);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let newline = b == b'\n' || b == b'\r';
        if at_start && !newline {
            starts.push(line);
            at_start = false;
        }
        if b == b'"' {
            quoted = !quoted;
        } else if newline {
            if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            line += 1;
            if !quoted {
                at_start = true;
            }
        }
        i += 1;
    }
    starts
}

/// Where data row `row` (0-based) of a table file is, for messages: the physical
/// line of a CSV/TSV (a quoted cell may span lines), or the row of a Parquet file.
pub fn row_place(path: &Path, row: usize) -> String {
    match extension(path).as_str() {
        ext @ ("csv" | "tsv" | "tab") => {
            let sep = if ext == "csv" { b',' } else { b'\t' };
            match read_text(path).map(|t| record_lines(&t, sep).get(row + 1).copied()) {
                Ok(Some(line)) => format!("line {line}"),
                _ => format!("data row {}", row + 1),
            }
        }
        _ => format!("row {}", row + 1),
    }
}

/// An error about data row `row` (0-based) of a table file: `FILE:LINE: …` for
/// CSV/TSV (the physical line), `FILE: row N: …` for Parquet.
pub fn row_error(path: &Path, row: usize, message: impl Into<String>) -> Error {
    let message = message.into();
    match row_place(path, row).strip_prefix("line ") {
        Some(line) => Error::parse(path, line.parse().unwrap_or(row + 2), message),
        None => Error::parse_file(path, format!("{}: {message}", row_place(path, row))),
    }
}

/// Refuses a CSV/TSV header that names a column twice (polars would rename the
/// second, and a `--column` would silently take the first).
fn check_header(path: &Path, text: &str, sep: u8) -> Result<()> {
    let mut names: Vec<String> = vec![String::new()];
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                names.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            c if !quoted && c == sep as char => names.push(String::new()),
            c => names.last_mut().unwrap().push(c),
        }
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(first) = seen.insert(n.as_str(), i + 1) {
            return Err(Error::parse(
                path,
                1,
                format!(
                    "column name {n:?} appears twice in the header (columns {first} and {}); column names must be unique",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// Names of a DataFrame's columns, comma-separated, for error messages.
pub fn column_list(df: &DataFrame) -> String {
    df.get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Column `name`, or an error naming the file and the columns it has.
fn column<'a>(df: &'a DataFrame, path: &Path, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| Error::MissingColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        available: column_list(df),
    })
}

/// `name` cast to text; a column of lists, structs or bytes is an error naming it.
fn as_text(col: &Column, path: &Path, name: &str) -> Result<Column> {
    let dtype = col.dtype();
    if dtype.is_nested() || matches!(dtype, DataType::Binary) {
        return Err(Error::parse_file(
            path,
            format!("column {name:?} holds {dtype} values; expected text (one value per cell)"),
        ));
    }
    col.cast(&DataType::String).map_err(|e| {
        Error::parse_file(
            path,
            format!(
                "column {name:?} ({dtype}) cannot be read as text: {}",
                polars_text(&e)
            ),
        )
    })
}

/// A polars error's first line (its advice is for Python users).
fn polars_text(e: &PolarsError) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// One string column of a table, with a clear error when the column is missing
/// or holds nulls.
pub fn string_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>> {
    let col = as_text(column(df, path, name)?, path, name)?;
    let ca = col.str().map_err(|e| Error::polars(path, e))?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(str::to_string)
                .ok_or_else(|| row_error(path, i, format!("column {name:?} is empty (null)")))
        })
        .collect()
}

/// A text column whose nulls read as empty strings.
pub fn text_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>> {
    let col = as_text(column(df, path, name)?, path, name)?;
    Ok(col
        .str()
        .map_err(|e| Error::polars(path, e))?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// One numeric column as `Option<f64>`: numbers as typed (Parquet, inferred CSV) or
/// text parsed as a number (a CSV read as text); empty cells and nulls are `None`.
/// A value that is no finite number is an error naming the file, line (CSV) or
/// row (Parquet) and the value as written.
pub fn number_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<f64>>> {
    let col = column(df, path, name)?;
    let values: Vec<Option<f64>> = if col.dtype().is_primitive_numeric() || col.dtype().is_null() {
        let col = col
            .cast(&DataType::Float64)
            .map_err(|e| Error::polars(path, e))?;
        col.f64()
            .map_err(|e| Error::polars(path, e))?
            .iter()
            .collect()
    } else if col.dtype() == &DataType::String {
        let ca = col.str().map_err(|e| Error::polars(path, e))?;
        ca.iter()
            .enumerate()
            .map(|(i, v)| match v.map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) => t.parse::<f64>().map(Some).map_err(|_| {
                    row_error(
                        path,
                        i,
                        format!("column {name:?}: expected a number, found {t:?}"),
                    )
                }),
            })
            .collect::<Result<_>>()?
    } else {
        return Err(Error::parse_file(
            path,
            format!("column {name:?} must be numeric, found {}", col.dtype()),
        ));
    };
    if let Some(i) = values
        .iter()
        .position(|v| matches!(v, Some(x) if !x.is_finite()))
    {
        // The cell as written (`1e400`, not the `inf` it parses to), where there is text.
        let written = match extension(path).as_str() {
            "parquet" => None,
            _ => read_text_table(path)
                .ok()
                .and_then(|t| text_column(&t, path, name).ok())
                .and_then(|v| v.get(i).cloned()),
        };
        let shown = written.map_or_else(
            || values[i].unwrap_or_default().to_string(),
            |w| format!("{:?}", w.trim()),
        );
        return Err(row_error(
            path,
            i,
            format!("column {name:?}: {shown} is not a finite number (it overflows a 64-bit float or is infinite/NaN)"),
        ));
    }
    Ok(values)
}

/// Reads input strings: a text file has one string per line (UTF-8, a leading BOM
/// dropped; lines end in `\n`, `\r\n` or `\r`);
/// CSV/TSV/Parquet need `column`.
pub fn read_strings(path: &Path, column: Option<&str>) -> Result<Vec<String>> {
    if path.is_dir() {
        return Err(Error::param(
            "input",
            format!(
                "{} is a directory; expected a text file (one string per line) or a .csv/.tsv/.parquet table",
                path.display()
            ),
        ));
    }
    let ext = extension(path);
    if matches!(ext.as_str(), "csv" | "tsv" | "tab" | "parquet") {
        let column = column.ok_or_else(|| {
            Error::param(
                "column",
                format!(
                    "{} is a table; say which column holds the strings with --column NAME",
                    path.display()
                ),
            )
        })?;
        let df = read_text_table(path)?;
        return string_column(&df, path, column);
    }
    if column.is_some() {
        return Err(Error::param(
            "column",
            format!("{} is a plain text file (one string per line); --column applies only to .csv/.tsv/.parquet", path.display()),
        ));
    }
    let text = read_text(path)?;
    // Any of \n, \r\n or a lone \r ends a line; a final line break adds no string.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<String> = text.split('\n').map(str::to_string).collect();
    if text.is_empty() || text.ends_with('\n') {
        out.pop();
    }
    Ok(out)
}

/// Serializes a path as text, replacing bytes that are not UTF-8 with U+FFFD, so a
/// non-UTF-8 folder name cannot fail a JSON output after the work is done
/// (serde's own path impl errors). Use as `#[serde(serialize_with = "…")]`.
pub fn serialize_path<S: serde::Serializer>(
    path: &Path,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// [`serialize_path`] for a list of paths.
pub fn serialize_paths<S: serde::Serializer>(
    paths: &[PathBuf],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

/// Lower-cased file extension ("" if none).
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// SHA-256 of a file, hex encoded.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_strings_are_read_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.csv");
        std::fs::write(&path, "id,n\n0012,1\nHGNC:5,2\n").unwrap();
        let ids = read_strings(&path, Some("id")).unwrap();
        assert_eq!(ids, ["0012", "HGNC:5"]);
        let e = read_strings(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn csv_errors_carry_no_python_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.csv");
        let mut text = "n\n".to_string();
        for i in 0..20 {
            text.push_str(&format!("{i}\n"));
        }
        text.push_str("x\n");
        std::fs::write(&path, text).unwrap();
        let e = read_table_with(&path, Some(5)).unwrap_err().to_string();
        assert!(e.contains("could not parse `x`"), "{e}");
        assert!(e.ends_with("each must have the column's type"), "{e}");
        assert!(
            !e.contains("infer_schema_length") && !e.contains('\n'),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn atomic_writes_leave_one_synced_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_json_atomic(&path, &[1, 2]).unwrap();
        write_json_atomic(&path, &[3]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[\n  3\n]");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_pipes_are_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_bytes_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        write_bytes_atomic(Path::new("/dev/null"), b"gone").unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
    }
}
