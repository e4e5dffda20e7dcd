//! One PAM transaction for one job, as Debian's cron opens it: start with the `cron`
//! service and the job's user, `PAM_TTY` = `cron`, the account check, then the session and
//! the credentials; on drop, the reverse. Used only by the session helper (`session.rs`), a
//! process of its own, never by the daemon: libpam allocates, reads files and loads modules,
//! none of which may happen between the daemon's clone and exec, nor block its loop.
//!
//! The bindings are `pam-sys`'s raw functions, since its wrapped ones take one flag at a time
//! and the calls here need two (`PAM_ESTABLISH_CRED | PAM_SILENT`).

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;

use pam_sys::raw;
use pam_sys::{PamConversation, PamHandle, PamMessage, PamResponse};

// The constants of <security/_pam_types.h>, fixed by Linux-PAM's ABI.
const PAM_SUCCESS: c_int = 0;
const PAM_CONV_ERR: c_int = 19;
const PAM_TTY: c_int = 3;
const PAM_SILENT: c_int = 0x8000;
const PAM_ESTABLISH_CRED: c_int = 0x0002;
const PAM_DELETE_CRED: c_int = 0x0004;

/// Why PAM refused the job: the step that failed and PAM's own words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub step: &'static str,
    pub reason: String,
}

/// An open transaction: the account was accepted and the session and credentials are set up
/// (as far as `open` got). Dropping it undoes them and ends the transaction.
pub(super) struct Pam {
    handle: *mut PamHandle,
    /// The last status PAM returned, which `pam_end` wants.
    last: c_int,
    session_open: bool,
    credentials_set: bool,
}

/// A job has no one to answer a prompt: any question a module asks is a conversation error,
/// which the module turns into its own failure.
extern "C" fn no_conversation(
    _count: c_int,
    _messages: *mut *mut PamMessage,
    _responses: *mut *mut PamResponse,
    _data: *mut c_void,
) -> c_int {
    PAM_CONV_ERR
}

impl Pam {
    /// Starts the transaction of `service` for `user` and runs it up to an open session with
    /// credentials. Any step's failure is the job's refusal.
    pub fn open(service: &str, user: &str) -> Result<Pam, Refusal> {
        let refused = |step, reason: &str| Refusal {
            step,
            reason: reason.to_owned(),
        };
        let service = CString::new(service).map_err(|_| refused("start", "NUL in service"))?;
        let user = CString::new(user).map_err(|_| refused("start", "NUL in user name"))?;
        let conversation = PamConversation {
            conv: Some(no_conversation),
            data_ptr: ptr::null_mut(),
        };
        let mut handle: *const PamHandle = ptr::null();
        // SAFETY: the strings and the conversation are valid for the call; pam_start copies
        // all three, so none needs to outlive it. `handle` receives the new transaction.
        let status =
            unsafe { raw::pam_start(service.as_ptr(), user.as_ptr(), &conversation, &mut handle) };
        if status != PAM_SUCCESS || handle.is_null() {
            return Err(Refusal {
                step: "start",
                reason: describe(ptr::null_mut(), status),
            });
        }
        let mut pam = Pam {
            handle: handle as *mut PamHandle,
            last: PAM_SUCCESS,
            session_open: false,
            credentials_set: false,
        };
        let tty = c"cron";
        // SAFETY: `handle` is the live transaction; PAM copies the item's string.
        pam.step("tty", |h| unsafe {
            raw::pam_set_item(h, PAM_TTY, tty.as_ptr().cast())
        })?;
        // SAFETY: as above; the call takes only the handle and flags.
        pam.step("account check", |h| unsafe {
            raw::pam_acct_mgmt(h, PAM_SILENT)
        })?;
        // SAFETY: as above.
        pam.step("session", |h| unsafe {
            raw::pam_open_session(h, PAM_SILENT)
        })?;
        pam.session_open = true;
        // SAFETY: as above.
        pam.step("credentials", |h| unsafe {
            raw::pam_setcred(h, PAM_ESTABLISH_CRED | PAM_SILENT)
        })?;
        pam.credentials_set = true;
        Ok(pam)
    }

    fn step(
        &mut self,
        step: &'static str,
        call: impl FnOnce(*mut PamHandle) -> c_int,
    ) -> Result<(), Refusal> {
        self.last = call(self.handle);
        if self.last == PAM_SUCCESS {
            Ok(())
        } else {
            Err(Refusal {
                step,
                reason: describe(self.handle, self.last),
            })
        }
    }

    /// The variables the session's modules set (`pam_env`: `/etc/environment`, the locale),
    /// in PAM's order.
    pub fn env(&self) -> Vec<(String, String)> {
        // SAFETY: `handle` is the live transaction. The list and each string in it are
        // malloc'd copies that belong to us: each is read, then freed, once.
        unsafe {
            let list = raw::pam_getenvlist(self.handle) as *mut *mut c_char;
            if list.is_null() {
                return Vec::new();
            }
            let mut vars = Vec::new();
            let mut at = list;
            while !(*at).is_null() {
                let entry = CStr::from_ptr(*at).to_string_lossy().into_owned();
                if let Some((name, value)) = entry.split_once('=') {
                    vars.push((name.to_owned(), value.to_owned()));
                }
                libc::free((*at).cast());
                at = at.add(1);
            }
            libc::free(list.cast());
            vars
        }
    }
}

impl Drop for Pam {
    fn drop(&mut self) {
        // Failures here change nothing for the job, which has run: the transaction ends anyway.
        // SAFETY: `handle` is the live transaction; pam_end frees it, and it is not used after.
        unsafe {
            if self.credentials_set {
                raw::pam_setcred(self.handle, PAM_DELETE_CRED | PAM_SILENT);
            }
            if self.session_open {
                self.last = raw::pam_close_session(self.handle, PAM_SILENT);
            }
            raw::pam_end(self.handle, self.last);
        }
    }
}

/// PAM's words for `status` (`pam_strerror`, which Linux-PAM answers without a handle too).
fn describe(handle: *mut PamHandle, status: c_int) -> String {
    // SAFETY: pam_strerror returns a static string, or NULL for nothing at all.
    let text = unsafe { raw::pam_strerror(handle, status) };
    if text.is_null() {
        return format!("PAM error {status}");
    }
    // SAFETY: a NUL-terminated static string from libpam.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}
