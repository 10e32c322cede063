//! File formats at the edges: reading string lists and tables, and writing every
//! output atomically (a temp file in the target directory, then rename), so an
//! interrupted run never leaves a half-written file.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::*;

use crate::error::{Error, Result};

mod set;
pub use set::OutputSet;

/// Writes `path` atomically: `write` fills a temp file beside it, which is renamed
/// over `path` only when `write` succeeds. The parent directory must exist.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut fs::File) -> Result<()>,
{
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
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| Error::io(&dir, e))?;
    write(tmp.as_file_mut())?;
    // On the disk before the rename, so a crash leaves the old file or the new one.
    tmp.as_file_mut()
        .sync_all()
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(&dir);
    Ok(())
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
            CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(infer)
                .with_parse_options(CsvParseOptions::default().with_separator(sep))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|r| r.finish())
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

/// One string column of a table, with a clear error when the column is missing
/// or holds nulls.
pub fn string_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>> {
    let col = column(df, path, name)?;
    let col = col
        .cast(&DataType::String)
        .map_err(|e| Error::polars(path, e))?;
    let ca = col.str().map_err(|e| Error::polars(path, e))?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(str::to_string).ok_or_else(|| {
                // +2: header line and 1-based numbering.
                Error::parse(path, i + 2, format!("column {name:?} is empty (null)"))
            })
        })
        .collect()
}

/// A text column whose nulls read as empty strings.
pub fn text_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>> {
    let col = column(df, path, name)?;
    let col = col
        .cast(&DataType::String)
        .map_err(|e| Error::polars(path, e))?;
    Ok(col
        .str()
        .map_err(|e| Error::polars(path, e))?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// One numeric column as `Option<f64>`: numbers as typed (Parquet, inferred CSV) or
/// text parsed as a number (a CSV read as text); empty cells and nulls are `None`.
/// A value that is no finite number is an error naming the file, line and value.
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
                    Error::parse(
                        path,
                        i + 2,
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
        return Err(Error::parse(
            path,
            i + 2,
            format!(
                "column {name:?}: {} is not a finite number",
                values[i].unwrap_or_default()
            ),
        ));
    }
    Ok(values)
}

/// Reads input strings: a text file has one string per line (UTF-8, `\n` or `\r\n`);
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
    let f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    let mut reader = BufReader::new(f);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let s = std::str::from_utf8(&buf).map_err(|e| {
            Error::parse(
                path,
                line_no,
                format!(
                    "invalid UTF-8 at byte {} of the line; expected UTF-8 text",
                    e.valid_up_to()
                ),
            )
        })?;
        out.push(s.to_string());
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
