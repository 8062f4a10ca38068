//! Capabilities as typed wire tokens (RFC 9051 §7.2.2 and each
//! extension's RFC): what moxd announces, and which of them ENABLE
//! (RFC 5161) can turn on.

use std::fmt;

use crate::imap::parse::ThreadAlgorithm;
use crate::sasl::Mechanism;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Imap4rev2,
    Imap4rev1,
    /// RFC 3501 §6.2.1.
    StartTls,
    /// RFC 9051 §6.2.3: LOGIN refused (no TLS yet).
    LoginDisabled,
    Auth(Mechanism),
    /// RFC 4959.
    SaslIr,
    /// RFC 5161.
    Enable,
    /// RFC 7888.
    LiteralPlus,
    LiteralMinus,
    /// RFC 2177.
    Idle,
    /// RFC 3516.
    Binary,
    /// RFC 3691.
    Unselect,
    /// RFC 4315.
    UidPlus,
    /// RFC 4731.
    Esearch,
    /// RFC 5182.
    SearchRes,
    /// RFC 6851.
    Move,
    /// RFC 6855.
    Utf8Accept,
    /// RFC 5258.
    ListExtended,
    /// RFC 6154.
    SpecialUse,
    CreateSpecialUse,
    /// RFC 5819.
    ListStatus,
    /// RFC 2971.
    Id,
    /// RFC 7889.
    AppendLimit(u64),
    /// RFC 7162.
    CondStore,
    QResync,
    /// RFC 8438.
    StatusSize,
    /// RFC 9208.
    Quota,
    QuotaResStorage,
    /// RFC 8514.
    SaveDate,
    /// RFC 5032.
    Within,
    /// RFC 2342.
    Namespace,
    /// RFC 3502.
    MultiAppend,
    /// RFC 8970.
    Preview,
    /// RFC 3348.
    Children,
    /// RFC 5256.
    Sort,
    /// RFC 5957.
    SortDisplay,
    Thread(ThreadAlgorithm),
    /// RFC 4978.
    CompressDeflate,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Capability::*;
        let s = match self {
            Imap4rev2 => "IMAP4rev2",
            Imap4rev1 => "IMAP4rev1",
            StartTls => "STARTTLS",
            LoginDisabled => "LOGINDISABLED",
            Auth(m) => return write!(f, "AUTH={}", m.name()),
            SaslIr => "SASL-IR",
            Enable => "ENABLE",
            LiteralPlus => "LITERAL+",
            LiteralMinus => "LITERAL-",
            Idle => "IDLE",
            Binary => "BINARY",
            Unselect => "UNSELECT",
            UidPlus => "UIDPLUS",
            Esearch => "ESEARCH",
            SearchRes => "SEARCHRES",
            Move => "MOVE",
            Utf8Accept => "UTF8=ACCEPT",
            ListExtended => "LIST-EXTENDED",
            SpecialUse => "SPECIAL-USE",
            CreateSpecialUse => "CREATE-SPECIAL-USE",
            ListStatus => "LIST-STATUS",
            Id => "ID",
            AppendLimit(n) => return write!(f, "APPENDLIMIT={n}"),
            CondStore => "CONDSTORE",
            QResync => "QRESYNC",
            StatusSize => "STATUS=SIZE",
            Quota => "QUOTA",
            QuotaResStorage => "QUOTA=RES-STORAGE",
            SaveDate => "SAVEDATE",
            Within => "WITHIN",
            Namespace => "NAMESPACE",
            MultiAppend => "MULTIAPPEND",
            Preview => "PREVIEW",
            Children => "CHILDREN",
            Sort => "SORT",
            SortDisplay => "SORT=DISPLAY",
            Thread(a) => return write!(f, "THREAD={}", a.name()),
            CompressDeflate => "COMPRESS=DEFLATE",
        };
        f.write_str(s)
    }
}

/// What ENABLE can turn on (RFC 5161 §3.1); other names are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enableable {
    CondStore,
    QResync,
    Utf8Accept,
    Imap4rev2,
}

impl Enableable {
    pub fn from_name(s: &str) -> Option<Enableable> {
        match s.to_ascii_uppercase().as_str() {
            "CONDSTORE" => Some(Enableable::CondStore),
            "QRESYNC" => Some(Enableable::QResync),
            "UTF8=ACCEPT" => Some(Enableable::Utf8Accept),
            "IMAP4REV2" => Some(Enableable::Imap4rev2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Enableable::CondStore => "CONDSTORE",
            Enableable::QResync => "QRESYNC",
            Enableable::Utf8Accept => "UTF8=ACCEPT",
            Enableable::Imap4rev2 => "IMAP4rev2",
        }
    }
}

/// The capabilities announced in every state (mox's list, limited to
/// what moxd implements); the session adds the state-dependent ones.
pub fn base(append_limit: u64, literal_minus: bool, compress: bool) -> Vec<Capability> {
    use Capability::*;
    let mut caps = vec![
        Imap4rev2,
        Imap4rev1,
        Enable,
        if literal_minus {
            LiteralMinus
        } else {
            LiteralPlus
        },
        Idle,
        SaslIr,
        Binary,
        Unselect,
        UidPlus,
        Esearch,
        SearchRes,
        Move,
        Utf8Accept,
        ListExtended,
        SpecialUse,
        CreateSpecialUse,
        ListStatus,
        Id,
        AppendLimit(append_limit),
        CondStore,
        QResync,
        StatusSize,
        Quota,
        QuotaResStorage,
        SaveDate,
        Within,
        Namespace,
        MultiAppend,
        Preview,
        Children,
        Sort,
        SortDisplay,
        Thread(ThreadAlgorithm::OrderedSubject),
        Thread(ThreadAlgorithm::References),
    ];
    if compress {
        caps.push(CompressDeflate);
    }
    caps
}
