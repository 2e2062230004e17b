//! LysKOM objects as httpkom's JSON, looking up the names it embeds.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::error::Error;
use crate::protocol::error_code;
use crate::protocol::numbers::{ConfNo, PersNo, TextNo};
use crate::protocol::types::{
    AuxItem, ConfType, Conference, Membership, MembershipType, MiscInfo, TextStat, Time,
    UConference,
};

/// Aux-item tags httpkom passes on for texts and conferences, with their names.
const SHOWN_AUX_ITEMS: &[(u32, &str)] = &[
    (2, "fast-reply"),
    (14, "faq-text"),
    (16, "mx-author"),
    (21, "mx-date"),
    (28, "faq-for-conf"),
    (10401, "komfeeder-url"),
    (10402, "komfeeder-title"),
    (10403, "komfeeder-author"),
    (10404, "komfeeder-date"),
];

/// The content-type aux-item.
pub(crate) const AUX_CONTENT_TYPE: u32 = 1;
/// The creating-software aux-item.
pub(crate) const AUX_CREATING_SOFTWARE: u32 = 15;

/// Looks up (and remembers, for one request) names of persons and conferences.
pub(crate) struct Namer<'a> {
    client: &'a Client,
    names: HashMap<ConfNo, Option<String>>,
}

impl<'a> Namer<'a> {
    /// A namer asking `client`.
    pub(crate) fn new(client: &'a Client) -> Self {
        Namer {
            client,
            names: HashMap::new(),
        }
    }

    /// The client.
    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    async fn name(&mut self, conf_no: ConfNo) -> Result<Option<String>, Error> {
        if let Some(n) = self.names.get(&conf_no) {
            return Ok(n.clone());
        }
        let name = match self.client.get_uconf_stat(conf_no).await {
            Ok(u) => Some(u.name),
            Err(Error::Server { code, .. }) if code == error_code::UNDEFINED_CONFERENCE => None,
            Err(e) => return Err(e),
        };
        self.names.insert(conf_no, name.clone());
        Ok(name)
    }

    /// `{"pers_no", "pers_name"}`, with pylyskom's stand-in names for the anonymous person
    /// and persons that do not exist.
    pub(crate) async fn person(&mut self, pers_no: PersNo) -> Result<Value, Error> {
        let name = if pers_no.is_zero() {
            "Anonymous person".to_string()
        } else {
            self.name(pers_no.into())
                .await?
                .unwrap_or_else(|| format!("Person {pers_no} (does not exist)."))
        };
        Ok(person(pers_no, &name))
    }

    /// `{"conf_no", "name"}`, or null for conference 0.
    pub(crate) async fn conference(&mut self, conf_no: ConfNo) -> Result<Value, Error> {
        if conf_no.is_zero() {
            return Ok(Value::Null);
        }
        let name = self
            .name(conf_no)
            .await?
            .unwrap_or_else(|| format!("Conference {conf_no} (does not exist)."));
        Ok(json!({"conf_no": conf_no, "name": name}))
    }
}

/// `{"pers_no", "pers_name"}`.
pub(crate) fn person(pers_no: PersNo, name: &str) -> Value {
    json!({"pers_no": pers_no, "pers_name": name})
}

/// A time as httpkom writes it.
pub(crate) fn time(t: &Time) -> Value {
    Value::String(t.to_iso8601())
}

/// A conference type's eight flags, as 0 or 1 (httpkom passes pylyskom's integers on).
pub(crate) fn conf_type(t: &ConfType) -> Value {
    json!({
        "rd_prot": u8::from(t.rd_prot),
        "original": u8::from(t.original),
        "secret": u8::from(t.secret),
        "letterbox": u8::from(t.letterbox),
        "allow_anonymous": u8::from(t.allow_anonymous),
        "forbid_secret": u8::from(t.forbid_secret),
        "reserved2": u8::from(t.reserved2),
        "reserved3": u8::from(t.reserved3),
    })
}

/// A membership type.
pub(crate) fn membership_type(t: &MembershipType) -> Value {
    json!({
        "invitation": u8::from(t.invitation),
        "passive": u8::from(t.passive),
        "secret": u8::from(t.secret),
        "passive_message_invert": u8::from(t.passive_message_invert),
    })
}

/// A conference in short form.
pub(crate) fn uconference(conf_no: ConfNo, u: &UConference) -> Value {
    json!({
        "conf_no": conf_no,
        "name": u.name,
        "type": conf_type(&u.conf_type),
        "highest_local_no": u.highest_local_no,
        "nice": u.nice,
    })
}

async fn aux_items(namer: &mut Namer<'_>, items: &[AuxItem]) -> Result<Value, Error> {
    let mut out = Vec::new();
    for ai in items {
        let Some((_, tag)) = SHOWN_AUX_ITEMS.iter().find(|(t, _)| *t == ai.tag) else {
            continue;
        };
        let flag = |i: usize| ai.flags.get(i).copied().unwrap_or(false);
        out.push(json!({
            "aux_no": ai.aux_no,
            "tag": tag,
            "creator": namer.person(ai.creator).await?,
            "created_at": time(&ai.created_at),
            "flags": {
                "deleted": u8::from(flag(0)),
                "inherit": u8::from(flag(1)),
                "secret": u8::from(flag(2)),
                "hide_creator": u8::from(flag(3)),
                "dont_garb": u8::from(flag(4)),
            },
            "inherit_limit": ai.inherit_limit,
            "data": crate::protocol::reader::decode_text(&ai.data),
        }));
    }
    Ok(Value::Array(out))
}

/// A conference in full.
pub(crate) async fn conference(
    namer: &mut Namer<'_>,
    conf_no: ConfNo,
    c: &Conference,
) -> Result<Value, Error> {
    Ok(json!({
        "conf_no": conf_no,
        "name": c.name,
        "type": conf_type(&c.conf_type),
        "creation_time": time(&c.creation_time),
        "last_written": time(&c.last_written),
        "creator": namer.person(c.creator).await?,
        "presentation": c.presentation,
        "supervisor": namer.conference(c.supervisor).await?,
        "permitted_submitters": namer.conference(c.permitted_submitters).await?,
        "super_conf": namer.conference(c.super_conf).await?,
        "msg_of_day": c.msg_of_day,
        "nice": c.nice,
        "keep_commented": c.keep_commented,
        "no_of_members": c.no_of_members,
        "first_local_no": c.first_local_no,
        "no_of_texts": c.no_of_texts,
        "expire": c.expire,
        "aux_items": aux_items(namer, &c.aux_items).await?,
    }))
}

/// A membership, with the conference in short form.
pub(crate) async fn membership(
    namer: &mut Namer<'_>,
    pers_no: PersNo,
    m: &Membership,
) -> Result<Value, Error> {
    let uconf = namer.client().get_uconf_stat(m.conference).await?;
    let added_by = if m.added_by.is_zero() {
        Value::Null
    } else {
        namer.person(m.added_by).await?
    };
    Ok(json!({
        "pers_no": pers_no,
        "position": m.position,
        "last_time_read": time(&m.last_time_read),
        "conference": uconference(m.conference, &uconf),
        "priority": m.priority,
        "added_by": added_by,
        "added_at": time(&m.added_at),
        "type": membership_type(&m.membership_type),
    }))
}

/// A content type split as pylyskom does: (type, subtype, parameters without charset), charset.
pub(crate) fn parse_content_type(
    content_type: &str,
) -> (String, String, Vec<(String, String)>, Option<String>) {
    let mut parts = content_type.split(';');
    let full = parts.next().unwrap_or("").trim();
    let full = if full == "*" { "*/*" } else { full };
    let (mut major, mut minor) = match full.split_once('/') {
        Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
        None => (full.to_string(), String::new()),
    };
    if major == "x-kom" && minor == "text" {
        major = "text".into();
        minor = "x-kom-basic".into();
    }
    let mut params = Vec::new();
    let mut charset = None;
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (p.trim().to_string(), String::new()),
        };
        if k == "charset" {
            charset = Some(v);
        } else {
            params.retain(|(pk, _): &(String, String)| *pk != k);
            params.push((k, v));
        }
    }
    if charset.as_deref() == Some("x-ctext") {
        charset = Some("latin1".into());
    }
    (major, minor, params, charset)
}

/// The content type without its charset, as `type/subtype;k=v`.
pub(crate) fn content_type_string(major: &str, minor: &str, params: &[(String, String)]) -> String {
    let mut s = format!("{major}/{minor}");
    for (k, v) in params {
        s.push(';');
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// Decodes text bytes in `charset` (UTF-8 or Latin-1; anything else, or undecodable bytes,
/// falls back to Latin-1 as pylyskom does).
pub(crate) fn decode_in(bytes: &[u8], charset: Option<&str>) -> String {
    let latin1 = || bytes.iter().map(|&b| char::from(b)).collect::<String>();
    match charset.map(str::to_ascii_lowercase).as_deref() {
        Some("utf-8" | "utf8") => {
            std::str::from_utf8(bytes).map_or_else(|_| latin1(), str::to_owned)
        }
        Some("us-ascii" | "ascii") => std::str::from_utf8(bytes)
            .ok()
            .filter(|s| s.is_ascii())
            .map_or_else(latin1, str::to_owned),
        _ => latin1(),
    }
}

/// The text's content type as stored (from its content-type aux-item; `text/plain` if none).
pub(crate) fn stored_content_type(stat: &TextStat) -> String {
    stat.aux_items
        .iter()
        .find(|ai| ai.tag == AUX_CONTENT_TYPE)
        .map(|ai| ai.data.iter().map(|&b| char::from(b)).collect())
        .unwrap_or_else(|| "text/plain".to_string())
}

/// A text as httpkom shows it. `text` is the text's bytes, or `None` when only the status
/// was fetched (as in a conference's text list).
pub(crate) async fn text(
    namer: &mut Namer<'_>,
    text_no: TextNo,
    stat: &TextStat,
    text: Option<&[u8]>,
) -> Result<Value, Error> {
    let (major, minor, params, charset) = parse_content_type(&stored_content_type(stat));
    let content_type = content_type_string(&major, &minor, &params);
    let (subject, body): (Value, Value) = match text {
        None => (Value::Null, Value::Null),
        Some(bytes) if major == "x-kom" && minor == "user-area" => (
            Value::Null,
            Value::String(decode_in(bytes, charset.as_deref())),
        ),
        Some(bytes) => {
            let (subject, raw_body) = match bytes.iter().position(|&b| b == b'\n') {
                None => (String::new(), bytes),
                Some(i) => (decode_in(&bytes[..i], charset.as_deref()), &bytes[i + 1..]),
            };
            let body = if major == "text" {
                Value::String(decode_in(raw_body, charset.as_deref()))
            } else {
                Value::Null
            };
            (Value::String(subject), body)
        }
    };
    let mut d = Map::new();
    d.insert("text_no".into(), json!(text_no));
    d.insert("author".into(), namer.person(stat.author).await?);
    d.insert("no_of_marks".into(), json!(stat.no_of_marks));
    d.insert("content_type".into(), json!(content_type));
    d.insert("subject".into(), subject);
    if major == "text" || (major == "x-kom" && minor == "user-area") {
        d.insert("body".into(), body);
    }
    let (recipients, comment_to, comment_in) = misc_lists(namer, &stat.misc_info).await?;
    d.insert("recipient_list".into(), Value::Array(recipients));
    d.insert("comment_to_list".into(), Value::Array(comment_to));
    d.insert("comment_in_list".into(), Value::Array(comment_in));
    d.insert("aux_items".into(), aux_items(namer, &stat.aux_items).await?);
    d.insert("creation_time".into(), time(&stat.creation_time));
    Ok(Value::Object(d))
}

async fn text_author(namer: &mut Namer<'_>, text_no: TextNo) -> Result<Value, Error> {
    match namer.client().get_text_stat(text_no).await {
        Ok(stat) => namer.person(stat.author).await,
        Err(Error::Server { code, .. })
            if code == error_code::NO_SUCH_TEXT || code == error_code::TEXT_ZERO =>
        {
            Ok(Value::Null)
        }
        Err(e) => Err(e),
    }
}

async fn misc_lists(
    namer: &mut Namer<'_>,
    misc: &[MiscInfo],
) -> Result<(Vec<Value>, Vec<Value>, Vec<Value>), Error> {
    struct Recipient {
        kind: &'static str,
        conf_no: ConfNo,
        loc_no: Option<u32>,
        rec_time: Option<Time>,
        sent_by: Option<PersNo>,
        sent_at: Option<Time>,
    }
    let mut recipients: Vec<Recipient> = Vec::new();
    let mut comment_to = Vec::new();
    let mut comment_in = Vec::new();
    // Which list the trailing items (sender, sent-at) belong to.
    let mut last_is_recipient = false;
    for item in misc {
        let new_recipient = |kind, conf_no| Recipient {
            kind,
            conf_no,
            loc_no: None,
            rec_time: None,
            sent_by: None,
            sent_at: None,
        };
        match item {
            MiscInfo::Recipient(c) => {
                recipients.push(new_recipient("to", *c));
                last_is_recipient = true;
            }
            MiscInfo::CcRecipient(c) => {
                recipients.push(new_recipient("cc", *c));
                last_is_recipient = true;
            }
            MiscInfo::BccRecipient(c) => {
                recipients.push(new_recipient("bcc", *c));
                last_is_recipient = true;
            }
            MiscInfo::CommentTo(t) => {
                comment_to.push(("comment", *t));
                last_is_recipient = false;
            }
            MiscInfo::FootnoteTo(t) => {
                comment_to.push(("footnote", *t));
                last_is_recipient = false;
            }
            MiscInfo::CommentedIn(t) => {
                comment_in.push(("comment", *t));
                last_is_recipient = false;
            }
            MiscInfo::FootnotedIn(t) => {
                comment_in.push(("footnote", *t));
                last_is_recipient = false;
            }
            MiscInfo::LocalNo(n) => {
                if let Some(r) = recipients.last_mut() {
                    r.loc_no = Some(*n);
                }
            }
            MiscInfo::ReceivedAt(t) => {
                if let Some(r) = recipients.last_mut() {
                    r.rec_time = Some(*t);
                }
            }
            MiscInfo::Sender(p) => {
                if let (true, Some(r)) = (last_is_recipient, recipients.last_mut()) {
                    r.sent_by = Some(*p);
                }
            }
            MiscInfo::SentAt(t) => {
                if let (true, Some(r)) = (last_is_recipient, recipients.last_mut()) {
                    r.sent_at = Some(*t);
                }
            }
        }
    }
    let mut rec_out = Vec::new();
    for r in recipients {
        let sent_by = match r.sent_by {
            Some(p) => namer.person(p).await?,
            None => Value::Null,
        };
        let recpt = match namer.conference(r.conf_no).await? {
            Value::Null => json!({"conf_no": 0, "name": "Conference 0 (does not exist)."}),
            v => v,
        };
        rec_out.push(json!({
            "type": r.kind,
            "recpt": recpt,
            "loc_no": r.loc_no,
            "sent_by": sent_by,
            "sent_at": r.sent_at.as_ref().map(time),
            "rec_time": r.rec_time.as_ref().map(time),
        }));
    }
    let mut to_out = Vec::new();
    for (kind, t) in comment_to {
        to_out.push(json!({"type": kind, "text_no": t, "author": text_author(namer, t).await?}));
    }
    let mut in_out = Vec::new();
    for (kind, t) in comment_in {
        in_out.push(json!({"type": kind, "text_no": t, "author": text_author(namer, t).await?}));
    }
    Ok((rec_out, to_out, in_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_split_like_pylyskom() {
        let (a, b, p, c) = parse_content_type("text/x-kom-basic;charset=utf-8");
        assert_eq!(
            (a.as_str(), b.as_str(), p.len(), c.as_deref()),
            ("text", "x-kom-basic", 0, Some("utf-8"))
        );
        let (a, b, _, c) = parse_content_type("x-kom/text");
        assert_eq!((a.as_str(), b.as_str(), c), ("text", "x-kom-basic", None));
        let (a, b, p, _) = parse_content_type("image/jpeg; name=x.jpg");
        assert_eq!(content_type_string(&a, &b, &p), "image/jpeg;name=x.jpg");
    }

    #[test]
    fn decoding_falls_back_to_latin1() {
        assert_eq!(decode_in("åäö".as_bytes(), Some("utf-8")), "åäö");
        assert_eq!(decode_in(b"\xe5", Some("utf-8")), "å");
        assert_eq!(decode_in(b"\xe5", None), "å");
    }
}
