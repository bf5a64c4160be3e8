//! Where a campaign's files live: the out folder (`--out`, else the manifest's
//! `output:`, else `renders/<manifest stem>`) and its rehearsal twin. `run`,
//! `status` and `report` all find it here, so they always agree.

use std::path::{Path, PathBuf};

use crate::manifest::Loaded;

/// The out folder: `--out`, else the manifest's `output:`, else `renders/<stem>`.
pub fn default_out_dir(loaded: &Loaded, cli_out: Option<&Path>) -> PathBuf {
    if let Some(out) = cli_out {
        return out.to_path_buf();
    }
    if let Some(out) = &loaded.manifest.output {
        // `a/b/../c` → `a/c` without touching the disk (the folder may not exist yet).
        return path_clean::clean(out);
    }
    let stem =
        loaded.manifest.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "shotlist".into());
    Path::new("renders").join(stem)
}

/// The folder a rehearsal of `out` writes to: `<out>-rehearsal`, beside it.
pub fn rehearsal(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push("-rehearsal");
    let mut dir = out.to_path_buf();
    dir.set_file_name(name);
    dir
}

/// The out folder of a command: the rehearsal's when `rehearse` is set.
pub fn out_dir(loaded: &Loaded, cli_out: Option<&Path>, rehearse: bool) -> PathBuf {
    let out = default_out_dir(loaded, cli_out);
    if rehearse { rehearsal(&out) } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rehearsal_folder_sits_beside_the_out_folder() {
        assert_eq!(rehearsal(Path::new("renders/spring")), PathBuf::from("renders/spring-rehearsal"));
        assert_eq!(rehearsal(Path::new("out")), PathBuf::from("out-rehearsal"));
        assert_eq!(path_clean::clean(Path::new("a/b/../c")), PathBuf::from("a/c"));
    }
}
