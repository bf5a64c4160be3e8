//! Downloads: every clip seen and not on disk is fetched; a folder that cannot be
//! written halts the run.

use super::*;

impl Dispatcher<'_> {
    pub(super) fn spawn_downloads(&mut self) {
        if matches!(self.halt, Some(Halt::Disk(_))) {
            return; // Nothing can be saved; the next run downloads what is left.
        }
        let mut work = Vec::new();
        let ctx = self.ctx;
        let (state, live) = (&self.state, &self.live);
        // A clip seen is paid for: it is fetched whatever became of the rest of its job.
        self.to_fetch.retain(|id| {
            let Some(js) = state.jobs.get(&ctx.job(*id).key) else { return false };
            let mut waiting = false;
            for (v, c) in &js.clips {
                if let (Some(clip), None, None) = (&c.clip, &c.file, &c.failed) {
                    waiting = true;
                    if !live[id.index()].downloading.contains(v) {
                        work.push((*id, *v, clip.clone(), js.task.clone()));
                    }
                }
            }
            waiting
        });
        for (id, v, clip, task) in work {
            let job = self.job(id);
            let file = self.state.take_file(&job.key, v, job.extension());
            let dest = self.ctx.out.join(&file);
            if let Some(dir) = dest.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                // The out folder cannot take the shot's folder (read-only, full, no
                // permission): nothing can be saved, so halt as a failed write does.
                self.disk_halted(format!("cannot create {}: {e}", dir.display()));
                return;
            }
            self.set_downloading(id, v, true);
            worker::fetch(
                self.ctx.http.clone(),
                self.ctx.clients[&job.provider].clone(),
                task,
                id,
                v,
                clip,
                dest,
                file,
                self.ctx.timing.time_scale,
                self.downloads.clone(),
                self.events_tx.clone(),
            );
        }
    }

    pub(super) fn fetched(
        &mut self,
        id: JobId,
        variant: u32,
        file: String,
        result: Result<crate::run::download::Fetched, crate::run::download::FetchError>,
        new_url: Option<String>,
    ) -> std::io::Result<()> {
        self.set_downloading(id, variant, false);
        let key = self.key(id);
        if let Some(url) = new_url
            && let Some(mut clip) = self.js(id).and_then(|js| js.clips.get(&variant)).and_then(|c| c.clip.clone())
        {
            clip.video_url = url;
            self.append(Record::Clip { key: key.clone(), variant, clip, at: journal::now() })?;
            self.to_fetch.insert(id);
        }
        match result {
            Ok(f) => {
                let record =
                    Record::Downloaded { key, variant, file, sha256: f.sha256, bytes: f.bytes, at: journal::now() };
                self.append(record)?;
            }
            // Nothing is recorded: the clip stays "seen, not on disk" and the next run fetches it.
            Err(crate::run::download::FetchError::Disk(msg)) => self.disk_halted(msg),
            Err(e) => {
                let shot = &self.job(id).shot_id;
                self.note(&format!("{shot} clip {variant}: download failed: {e}"));
                self.failed(id, Some(variant), FailClass::Download, e.to_string())?;
            }
        }
        self.report_dirty = true;
        Ok(())
    }

    /// The out folder cannot be written: no more downloads or submits; a rerun resumes.
    pub(super) fn disk_halted(&mut self, msg: String) {
        let line = format!("Halted: {msg}. Free space (or make the folder writable) and run the same command again.");
        if self.raise(Halt::Disk(msg)) {
            self.note(&line);
        }
    }
}
