//! The resources besides sessions: server info, conferences, texts, persons, memberships.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::json::{
    self as j, AUX_CONTENT_TYPE, AUX_CREATING_SOFTWARE, Namer, content_type_string,
    parse_content_type,
};
use super::response::{Fail, Outcome, empty, fail, json};
use crate::client::Client;
use crate::error::Error;
use crate::lookup::lookup_name;
use crate::protocol::error_code::{
    self, NO_SUCH_TEXT, NOT_MEMBER, UNDEFINED_CONFERENCE, UNDEFINED_PERSON,
};
use crate::protocol::numbers::{ConfNo, PersNo, TextNo};
use crate::protocol::types::{ConfType, Membership, MembershipType, MiscInfo};

fn ok_json(value: &Value) -> Outcome {
    Ok(json(StatusCode::OK, value))
}

fn missing(key: &str) -> Fail {
    fail(StatusCode::BAD_REQUEST, &format!("Missing \"{key}\"."))
}

fn required<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a Value, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Err(missing(key)),
        Some(v) => Ok(v),
    }
}

fn string(body: &Map<String, Value>, key: &str) -> Result<String, Fail> {
    match required(body, key)? {
        Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    }
}

fn number(v: &Value, key: &str) -> Result<u32, Fail> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| fail(StatusCode::BAD_REQUEST, &format!("Invalid \"{key}\".")))
}

fn object_or_empty(ctx: &Ctx<'_>) -> Result<Map<String, Value>, Fail> {
    match ctx.json_body()? {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => Err(fail(StatusCode::BAD_REQUEST, "Invalid body.")),
    }
}

fn kom(e: Error, codes: &[u32], status: StatusCode) -> Fail {
    Fail::Kom(e).with_status(codes, status)
}

/// GET /server/info.
pub(super) async fn server_info(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.session()?;
    let info = c.client.get_info().await?;
    let mut namer = Namer::new(&c.client);
    ok_json(&json!({
        "version": info.version,
        "conf_pres_conf": namer.conference(info.conf_pres_conf).await?,
        "pers_pres_conf": namer.conference(info.pers_pres_conf).await?,
        "motd_conf": namer.conference(info.motd_conf).await?,
        "kom_news_conf": namer.conference(info.kom_news_conf).await?,
        "motd_of_lyskom": info.motd_of_lyskom,
    }))
}

/// GET /conferences/?name=…: name lookup (`#<number>` names are that conference, as in
/// pylyskom).
pub(super) async fn conferences_lookup(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.session()?;
    let Some(name) = ctx.arg("name") else {
        return Err(Fail::respond(empty(StatusCode::BAD_REQUEST)));
    };
    let want_pers = ctx.bool_arg("want-pers", true)?;
    let want_confs = ctx.bool_arg("want-confs", true)?;
    let found = lookup_name(&c.client, name, want_pers, want_confs).await?;
    let list: Vec<Value> = found
        .iter()
        .map(|z| json!({"conf_no": z.conf_no, "name": z.name}))
        .collect();
    ok_json(&json!({ "conferences": list }))
}

/// POST /conferences/: a new conference.
pub(super) async fn conferences_create(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.login()?;
    let body = ctx.json_object()?;
    let name = string(&body, "name")?;
    let conf_no = c.client.create_conf(&name, ConfType::default()).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"conf_no": conf_no, "name": name}),
    ))
}

/// GET /conferences/<n>[?micro=false].
pub(super) async fn conferences_get(ctx: &Ctx<'_>, conf_no: ConfNo) -> Outcome {
    let c = ctx.login()?;
    let micro = ctx.bool_arg("micro", true)?;
    let not_found = |e| kom(e, &[UNDEFINED_CONFERENCE], StatusCode::NOT_FOUND);
    if micro {
        let u = c.client.get_uconf_stat(conf_no).await.map_err(not_found)?;
        ok_json(&j::uconference(conf_no, &u))
    } else {
        let conf = c.client.get_conf_stat(conf_no).await.map_err(not_found)?;
        let mut namer = Namer::new(&c.client);
        ok_json(&j::conference(&mut namer, conf_no, &conf).await?)
    }
}

/// GET /conferences/<n>/texts/?no-of-texts=N: the last texts, oldest first.
pub(super) async fn conferences_texts(ctx: &Ctx<'_>, conf_no: ConfNo) -> Outcome {
    let c = ctx.session()?;
    let count = ctx.int_arg("no-of-texts", 10)?;
    let mapping = c.client.local_to_global_reverse(conf_no, 0, count).await?;
    let mut namer = Namer::new(&c.client);
    let mut texts = Vec::new();
    for (_, text_no) in mapping.pairs.iter().filter(|(_, g)| !g.is_zero()) {
        let stat = c.client.get_text_stat(*text_no).await?;
        texts.push(j::text(&mut namer, *text_no, &stat, None).await?);
    }
    texts.reverse();
    ok_json(&json!({ "texts": texts }))
}

/// PUT /conferences/<c>/texts/<local>/read-marking.
pub(super) async fn conference_read_marking(
    ctx: &Ctx<'_>,
    conf_no: ConfNo,
    local_no: u32,
) -> Outcome {
    let c = ctx.login()?;
    match c.client.mark_as_read(conf_no, &[local_no]).await {
        Ok(()) => {}
        Err(Error::Server { code, .. }) if code == NOT_MEMBER => {}
        Err(e) => return Err(e.into()),
    }
    Ok(empty(StatusCode::CREATED))
}

/// GET /texts/<n>.
pub(super) async fn texts_get(ctx: &Ctx<'_>, text_no: TextNo) -> Outcome {
    let c = ctx.login()?;
    let not_found = |e| kom(e, &[NO_SUCH_TEXT], StatusCode::NOT_FOUND);
    let stat = c.client.get_text_stat(text_no).await.map_err(not_found)?;
    let text = c.client.get_text(text_no).await.map_err(not_found)?;
    let mut namer = Namer::new(&c.client);
    ok_json(&j::text(&mut namer, text_no, &stat, Some(&text)).await?)
}

/// GET /texts/<n>/body: the body alone, with its content type.
pub(super) async fn texts_body(ctx: &Ctx<'_>, text_no: TextNo) -> Outcome {
    let c = ctx.login()?;
    let not_found = |e| kom(e, &[NO_SUCH_TEXT], StatusCode::NOT_FOUND);
    let stat = c.client.get_text_stat(text_no).await.map_err(not_found)?;
    let text = c.client.get_text(text_no).await.map_err(not_found)?;
    let (major, minor, params, charset) = parse_content_type(&j::stored_content_type(&stat));
    let content_type = content_type_string(&major, &minor, &params);
    let raw_body = if major == "x-kom" && minor == "user-area" {
        &text[..]
    } else {
        match text.iter().position(|&b| b == b'\n') {
            Some(i) => &text[i + 1..],
            None => &text[..],
        }
    };
    let (bytes, header_type) = if major == "text" {
        (
            j::decode_in(raw_body, charset.as_deref()).into_bytes(),
            format!("{content_type}; charset=utf-8"),
        )
    } else {
        (raw_body.to_vec(), content_type)
    };
    let mut r = http::Response::new(Full::new(Bytes::from(bytes)));
    if let Ok(v) = HeaderValue::from_str(&header_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    super::inert_body::add_headers(r.headers_mut(), &major, &minor);
    Ok(r)
}

/// POST /texts/: a new text.
pub(super) async fn texts_create(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.login()?;
    let body = ctx.json_object()?;
    let subject = string(&body, "subject")?;
    let text_body = string(&body, "body")?;
    let content_type = string(&body, "content_type")?;
    let body_bytes = match body.get("content_encoding") {
        None | Some(Value::Null) => text_body.clone().into_bytes(),
        Some(Value::String(e)) if e == "base64" => base64::engine::general_purpose::STANDARD
            .decode(text_body.trim())
            .map_err(|_| fail(StatusCode::BAD_REQUEST, "Invalid base64 body."))?,
        Some(other) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Invalid content_encoding: {}",
                    other.as_str().unwrap_or("?")
                ),
            ));
        }
    };
    let (major, minor, mut params, _) = parse_content_type(&content_type);
    let latin1 = |s: &str| -> Result<Vec<u8>, Fail> {
        s.chars()
            .map(|ch| u8::try_from(u32::from(ch)).ok())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                fail(
                    StatusCode::BAD_REQUEST,
                    "The text cannot be encoded in ISO 8859-1.",
                )
            })
    };
    let full_text = if major == "text" {
        params.push(("charset".into(), "utf-8".into()));
        let mut t = subject.into_bytes();
        t.push(b'\n');
        t.extend_from_slice(&body_bytes);
        t
    } else if major == "x-kom" && minor == "user-area" {
        latin1(&text_body)?
    } else if major == "image" {
        let mut t = latin1(&subject)?;
        t.push(b'\n');
        t.extend_from_slice(&body_bytes);
        t
    } else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            &format!("Unhandled content type: {content_type}"),
        ));
    };
    let final_type = content_type_string(&major, &minor, &params);
    let mut misc = Vec::new();
    if let Some(Value::Array(list)) = body.get("recipient_list") {
        for r in list {
            let conf_no = ConfNo(number(
                r.get("recpt")
                    .and_then(|x| x.get("conf_no"))
                    .unwrap_or(&Value::Null),
                "conf_no",
            )?);
            misc.push(match r.get("type").and_then(Value::as_str) {
                Some("to") => MiscInfo::Recipient(conf_no),
                Some("cc") => MiscInfo::CcRecipient(conf_no),
                Some("bcc") => MiscInfo::BccRecipient(conf_no),
                _ => return Err(fail(StatusCode::BAD_REQUEST, "Invalid recipient type.")),
            });
        }
    }
    if let Some(Value::Array(list)) = body.get("comment_to_list") {
        for ct in list {
            let text_no = TextNo(number(
                ct.get("text_no").unwrap_or(&Value::Null),
                "text_no",
            )?);
            misc.push(match ct.get("type").and_then(Value::as_str) {
                Some("comment") => MiscInfo::CommentTo(text_no),
                Some("footnote") => MiscInfo::FootnoteTo(text_no),
                _ => return Err(fail(StatusCode::BAD_REQUEST, "Invalid comment type.")),
            });
        }
    }
    let software = format!("{} {}", c.client_name, c.client_version);
    let aux = vec![
        (AUX_CREATING_SOFTWARE, software.into_bytes()),
        (AUX_CONTENT_TYPE, final_type.into_bytes()),
    ];
    let text_no = c.client.create_text(&full_text, &misc, &aux).await?;
    let mut r = json(StatusCode::CREATED, &json!({ "text_no": text_no }));
    if let Ok(v) = HeaderValue::from_str(&format!("/{}/texts/{text_no}", ctx.server.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// GET /texts/marks/.
pub(super) async fn texts_marks(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.login()?;
    let marks: Vec<Value> = c
        .client
        .get_marks()
        .await?
        .iter()
        .map(|m| json!({"text_no": m.text_no, "type": m.mark_type}))
        .collect();
    ok_json(&json!({ "marks": marks }))
}

/// PUT or DELETE /texts/<n>/mark.
pub(super) async fn texts_mark(ctx: &Ctx<'_>, text_no: TextNo, put: bool) -> Outcome {
    let c = ctx.login()?;
    let not_found = |e| kom(e, &[NO_SUCH_TEXT], StatusCode::NOT_FOUND);
    if put {
        let body = ctx.json_object()?;
        let Some(mark_type) = body.get("type") else {
            return Err(fail(StatusCode::BAD_REQUEST, "Missing \"type\"."));
        };
        let mark_type = number(mark_type, "type")?;
        c.client
            .mark_text(text_no, mark_type)
            .await
            .map_err(not_found)?;
        Ok(empty(StatusCode::CREATED))
    } else {
        c.client.unmark_text(text_no).await.map_err(not_found)?;
        Ok(empty(StatusCode::NO_CONTENT))
    }
}

/// PUT or DELETE /texts/<n>/read-marking: in every recipient conference.
pub(super) async fn texts_read_marking(ctx: &Ctx<'_>, text_no: TextNo, put: bool) -> Outcome {
    let c = ctx.login()?;
    let stat = c.client.get_text_stat(text_no).await?;
    let mut current_conf = None;
    for item in &stat.misc_info {
        match item {
            MiscInfo::Recipient(conf)
            | MiscInfo::CcRecipient(conf)
            | MiscInfo::BccRecipient(conf) => {
                current_conf = Some(*conf);
            }
            MiscInfo::LocalNo(local) => {
                if let Some(conf) = current_conf {
                    let result = if put {
                        c.client.mark_as_read(conf, &[*local]).await
                    } else {
                        c.client.mark_as_unread(conf, *local).await
                    };
                    match result {
                        Ok(()) => {}
                        Err(Error::Server { code, .. }) if code == NOT_MEMBER => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(empty(if put {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    }))
}

/// POST /persons/: a new person.
pub(super) async fn persons_create(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.session()?;
    let body = ctx.json_object()?;
    let name = string(&body, "name")?;
    let passwd = string(&body, "passwd")?;
    let pers_no = c.client.create_person(&name, &passwd).await?;
    let pers_name = c.client.get_uconf_stat(pers_no).await?.name;
    Ok(json(StatusCode::CREATED, &j::person(pers_no, &pers_name)))
}

/// POST /persons/<n>/set-passwd.
pub(super) async fn persons_set_passwd(ctx: &Ctx<'_>, pers_no: PersNo) -> Outcome {
    let c = ctx.login()?;
    let body = ctx.json_object()?;
    let old = string(&body, "old_pwd")?;
    let new = string(&body, "new_pwd")?;
    c.client.set_passwd(pers_no, &old, &new).await?;
    Ok(empty(StatusCode::CREATED))
}

/// POST /persons/<n>/set-presentation.
pub(super) async fn persons_set_presentation(ctx: &Ctx<'_>, pers_no: PersNo) -> Outcome {
    let c = ctx.login()?;
    let body = ctx.json_object()?;
    let text_no = TextNo(number(required(&body, "text_no")?, "text_no")?);
    c.client.set_presentation(pers_no, text_no).await?;
    Ok(empty(StatusCode::CREATED))
}

/// PUT /persons/<p>/memberships/<c>: joins a conference.
pub(super) async fn memberships_add(ctx: &Ctx<'_>, pers_no: PersNo, conf_no: ConfNo) -> Outcome {
    let c = ctx.login()?;
    let body = object_or_empty(ctx)?;
    let priority = match body.get("priority") {
        None | Some(Value::Null) => 100,
        Some(v) => number(v, "priority")?,
    };
    let position = match body.get("where") {
        None | Some(Value::Null) => 0,
        Some(v) => number(v, "where")?,
    };
    c.client
        .add_member(
            conf_no,
            pers_no,
            priority,
            position,
            MembershipType::default(),
        )
        .await
        .map_err(|e| {
            kom(
                e,
                &[UNDEFINED_PERSON, UNDEFINED_CONFERENCE],
                StatusCode::NOT_FOUND,
            )
        })?;
    Ok(empty(StatusCode::CREATED))
}

/// DELETE /persons/<p>/memberships/<c>: leaves a conference.
pub(super) async fn memberships_remove(ctx: &Ctx<'_>, pers_no: PersNo, conf_no: ConfNo) -> Outcome {
    let c = ctx.login()?;
    c.client.sub_member(conf_no, pers_no).await.map_err(|e| {
        kom(
            e,
            &[UNDEFINED_PERSON, UNDEFINED_CONFERENCE, NOT_MEMBER],
            StatusCode::NOT_FOUND,
        )
    })?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// POST /persons/current/memberships/<c>/unread: leaves the last N texts unread.
pub(super) async fn memberships_set_unread(ctx: &Ctx<'_>, conf_no: ConfNo) -> Outcome {
    let c = ctx.login()?;
    let body = ctx.json_object()?;
    let Some(n) = body.get("no_of_unread") else {
        return Err(fail(StatusCode::BAD_REQUEST, "Missing \"no_of_unread\"."));
    };
    let n = number(n, "no_of_unread")?;
    c.client.set_unread(conf_no, n).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// GET /persons/<p>/memberships/<c>.
pub(super) async fn memberships_get(ctx: &Ctx<'_>, pers_no: PersNo, conf_no: ConfNo) -> Outcome {
    let c = ctx.login()?;
    let m = c
        .client
        .query_read_texts(pers_no, conf_no)
        .await
        .map_err(|e| kom(e, &[NOT_MEMBER], StatusCode::NOT_FOUND))?;
    let mut namer = Namer::new(&c.client);
    ok_json(&j::membership(&mut namer, pers_no, &m).await?)
}

/// The global numbers of the unread texts of a membership (with read ranges).
pub(crate) async fn unread_texts(client: &Client, m: &Membership) -> Result<Vec<TextNo>, Error> {
    let mut unread = Vec::new();
    let mut next = 1u32;
    let mut gaps = Vec::new();
    for r in &m.read_ranges {
        if r.first_read > next {
            gaps.push((next, r.first_read - next));
        }
        next = r.last_read.saturating_add(1);
    }
    let no_such_local = |e: &Error| e.server_code() == Some(error_code::NO_SUCH_LOCAL_TEXT);
    for (first, len) in gaps {
        let mut from = first;
        let end = first + len;
        while from < end {
            let n = (end - from).min(255);
            match client.local_to_global(m.conference, from, n).await {
                Ok(mapping) => {
                    unread.extend(
                        mapping
                            .pairs
                            .iter()
                            .filter(|(l, g)| *l < end && !g.is_zero())
                            .map(|(_, g)| *g),
                    );
                    if mapping.range_end <= from {
                        break;
                    }
                    from = mapping.range_end;
                }
                Err(e) if no_such_local(&e) => break,
                Err(e) => return Err(e),
            }
        }
    }
    let mut from = next;
    loop {
        match client.local_to_global(m.conference, from, 255).await {
            Ok(mapping) => {
                unread.extend(
                    mapping
                        .pairs
                        .iter()
                        .filter(|(_, g)| !g.is_zero())
                        .map(|(_, g)| *g),
                );
                if !mapping.more_texts_exist || mapping.range_end <= from {
                    break;
                }
                from = mapping.range_end;
            }
            Err(e) if no_such_local(&e) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(unread)
}

async fn membership_unread(
    client: &Client,
    pers_no: PersNo,
    conf_no: ConfNo,
) -> Result<Value, Error> {
    let m = client.query_read_texts(pers_no, conf_no).await?;
    let texts = unread_texts(client, &m).await?;
    Ok(json!({
        "pers_no": pers_no,
        "conf_no": conf_no,
        "no_of_unread": texts.len(),
        "unread_texts": texts,
    }))
}

/// GET /persons/<p>/memberships/<c>/unread.
pub(super) async fn memberships_unread(ctx: &Ctx<'_>, pers_no: PersNo, conf_no: ConfNo) -> Outcome {
    let c = ctx.login()?;
    let v = membership_unread(&c.client, pers_no, conf_no)
        .await
        .map_err(|e| kom(e, &[NOT_MEMBER], StatusCode::NOT_FOUND))?;
    ok_json(&v)
}

/// GET /persons/<p>/memberships/?unread=&passive=&first=&no-of-memberships=.
pub(super) async fn memberships_list(ctx: &Ctx<'_>, pers_no: PersNo) -> Outcome {
    let c = ctx.login()?;
    let unread = ctx.bool_arg("unread", false)?;
    let passive = ctx.bool_arg("passive", false)?;
    let first = ctx.int_arg("first", 0)?;
    let count = ctx.int_arg("no-of-memberships", 100)?;
    let mut namer = Namer::new(&c.client);
    let mut out = Vec::new();
    let has_more;
    if unread {
        for conf_no in c.client.get_unread_confs(pers_no).await? {
            let m = c.client.query_read_texts(pers_no, conf_no).await?;
            out.push(j::membership(&mut namer, pers_no, &m).await?);
        }
        has_more = false;
    } else {
        let list = c
            .client
            .get_membership(pers_no, first, count, false)
            .await?;
        has_more = list.len() as u64 >= u64::from(count);
        for m in list
            .iter()
            .filter(|m| passive || !m.membership_type.passive)
        {
            out.push(j::membership(&mut namer, pers_no, m).await?);
        }
    }
    ok_json(&json!({"has_more": has_more, "memberships": out}))
}

/// GET /persons/<p>/memberships/unread/: conferences with unread texts.
pub(super) async fn memberships_unreads(ctx: &Ctx<'_>, pers_no: PersNo) -> Outcome {
    let c = ctx.login()?;
    let mut list = Vec::new();
    for conf_no in c.client.get_unread_confs(pers_no).await? {
        let v = membership_unread(&c.client, pers_no, conf_no).await?;
        if v.get("no_of_unread").and_then(Value::as_u64).unwrap_or(0) > 0 {
            list.push(v);
        }
    }
    ok_json(&json!({ "list": list }))
}
