//! An IMAP folder for the reader (being written; see issue 6).

use super::{
    ConnectOptions, FolderUrl, ListEntry, QuitPlan, RemoteError, RemoteFlags, RemoteFolder,
    RemoteMessage,
};

/// An IMAP folder for the reader.
pub struct ImapFolder {
    url: FolderUrl,
}

impl ImapFolder {
    /// Opens the folder. Errors: not written yet.
    pub fn open(opts: &ConnectOptions) -> Result<ImapFolder, RemoteError> {
        let _ = ImapFolder {
            url: opts.url.clone(),
        };
        Err(RemoteError::Unsupported("not written yet"))
    }
}

impl RemoteFolder for ImapFolder {
    fn url(&self) -> &FolderUrl {
        &self.url
    }
    fn take_summary(&mut self) -> Vec<RemoteMessage> {
        Vec::new()
    }
    fn fetch(&mut self, _i: usize) -> Result<Vec<u8>, RemoteError> {
        Err(RemoteError::Unsupported("not written yet"))
    }
    fn check_new(&mut self) -> Result<Vec<RemoteMessage>, RemoteError> {
        Ok(Vec::new())
    }
    fn commit(&mut self, _plan: &QuitPlan) -> Result<(), RemoteError> {
        Ok(())
    }
    fn close(&mut self) {}
    fn copy(&mut self, _which: &[usize], _mailbox: &str, _remove: bool) -> Result<(), RemoteError> {
        Err(RemoteError::Unsupported("not written yet"))
    }
    fn append(
        &mut self,
        _mailbox: &str,
        _message: &[u8],
        _flags: RemoteFlags,
    ) -> Result<(), RemoteError> {
        Err(RemoteError::Unsupported("not written yet"))
    }
    fn list(&mut self) -> Result<Vec<ListEntry>, RemoteError> {
        Ok(Vec::new())
    }
}

/// Appends `messages` to `mailbox` (placeholder).
pub fn append_to(
    _opts: &ConnectOptions,
    _mailbox: &str,
    _messages: &[(Vec<u8>, RemoteFlags)],
) -> Result<(), RemoteError> {
    Err(RemoteError::Unsupported("not written yet"))
}

/// Lists the mailboxes (placeholder).
pub fn list_mailboxes(_opts: &ConnectOptions) -> Result<Vec<ListEntry>, RemoteError> {
    Err(RemoteError::Unsupported("not written yet"))
}
