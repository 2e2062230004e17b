//! The client against a real lyskomd: session lifecycle, login, texts, memberships,
//! concurrency and a server that goes away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use session_lyskom::Error;
use session_lyskom::client::{Client, ConnectOptions};
use session_lyskom::protocol::error_code;
use session_lyskom::protocol::numbers::{PersNo, SessionNo, TextNo};
use session_lyskom::protocol::types::{ConfType, MembershipType, MiscInfo};
use test_support::lyskomd::{ADMIN_PASSWORD, Lyskomd};

/// The built-in administrator.
const ADMIN_PERSON: PersNo = PersNo(test_support::lyskomd::ADMIN_PERSON);

fn server(test: &str) -> Option<Lyskomd> {
    let server = Lyskomd::start();
    if server.is_none() {
        test_support::skip(test, "lyskomd (Debian package lyskom-server)");
    }
    server
}

async fn connect(server: &Lyskomd) -> Client {
    let options = ConnectOptions {
        handshake_user: "test".into(),
        connect_timeout: Duration::from_secs(20),
        ..ConnectOptions::default()
    };
    Client::connect(&server.addr_string(), &options)
        .await
        .unwrap()
}

#[tokio::test]
async fn session_lifecycle_and_login_by_number() {
    let Some(server) = server("session_lifecycle_and_login_by_number") else {
        return;
    };
    let client = connect(&server).await;
    client.set_client_version("tests", "1").await.unwrap();
    let session = client.who_am_i().await.unwrap();
    assert!(!session.is_zero());
    let err = client.get_marks().await.unwrap_err();
    assert_eq!(err.server_code(), Some(error_code::LOGIN_FIRST));

    client
        .login(ADMIN_PERSON, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    assert_eq!(client.who_am_i().await.unwrap(), session);
    client.user_active().await.unwrap();
    let time = client.get_time().await.unwrap();
    assert!(time.year >= 120);
    assert!(client.get_marks().await.unwrap().is_empty());
    client.logout().await.unwrap();
    assert_eq!(
        client.get_marks().await.unwrap_err().server_code(),
        Some(error_code::LOGIN_FIRST)
    );
    client.disconnect(SessionNo(0)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), client.closed())
        .await
        .unwrap();
    assert!(matches!(client.who_am_i().await, Err(Error::Disconnected)));
}

#[tokio::test]
async fn login_by_name_and_bad_password() {
    let Some(server) = server("login_by_name_and_bad_password") else {
        return;
    };
    let client = connect(&server).await;
    let pers_no = client
        .create_person("Test Person Åsa", "hemligt")
        .await
        .unwrap();
    let found = client
        .lookup_z_name("Test Person Åsa", true, false)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].conf_no, pers_no.into());
    assert_eq!(found[0].name, "Test Person Åsa");

    let err = client.login(pers_no, "wrong", false).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                code: error_code::INVALID_PASSWORD,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("InvalidPassword"));
    client.login(pers_no, "hemligt", false).await.unwrap();
    let person = client.get_person_stat(pers_no).await.unwrap();
    assert!(person.sessions >= 1);
    let err = client.login(PersNo(999_999), "x", false).await.unwrap_err();
    assert_eq!(err.server_code(), Some(error_code::UNDEFINED_PERSON));
}

#[tokio::test]
async fn texts_with_utf8_bodies_memberships_and_unread() {
    let Some(server) = server("texts_with_utf8_bodies_memberships_and_unread") else {
        return;
    };
    let client = connect(&server).await;
    client
        .login(ADMIN_PERSON, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    client.enable(255).await.unwrap();
    let conf = client
        .create_conf("Räksmörgås", ConfType::default())
        .await
        .unwrap();
    assert_eq!(
        client.get_uconf_stat(conf).await.unwrap().name,
        "Räksmörgås"
    );
    client
        .add_member(conf, ADMIN_PERSON, 100, 0, MembershipType::default())
        .await
        .unwrap();

    let body = "Ämne på svenska\nGrüße, 日本語 och en rad till.\n";
    let mut texts = Vec::new();
    for _ in 0..3 {
        let text_no = client
            .create_text(
                body.as_bytes(),
                &[MiscInfo::Recipient(conf)],
                &[(1, b"text/x-kom-basic;charset=utf-8".to_vec())],
            )
            .await
            .unwrap();
        texts.push(text_no);
    }
    assert_eq!(client.get_text(texts[0]).await.unwrap(), body.as_bytes());
    let stat = client.get_text_stat(texts[0]).await.unwrap();
    assert_eq!(stat.author, ADMIN_PERSON);
    assert!(stat.misc_info.contains(&MiscInfo::Recipient(conf)));
    assert_eq!(stat.no_of_chars as usize, body.len());

    let mapping = client.local_to_global(conf, 1, 10).await.unwrap();
    assert_eq!(mapping.pairs.iter().map(|p| p.1).collect::<Vec<_>>(), texts);

    let membership = client.query_read_texts(ADMIN_PERSON, conf).await.unwrap();
    assert_eq!(membership.conference, conf);
    client.mark_as_read(conf, &[1, 2]).await.unwrap();
    let membership = client.query_read_texts(ADMIN_PERSON, conf).await.unwrap();
    let read: u32 = membership
        .read_ranges
        .iter()
        .map(|r| r.last_read - r.first_read + 1)
        .sum();
    assert_eq!(read, 2);
    let all = client
        .get_membership(ADMIN_PERSON, 0, 100, true)
        .await
        .unwrap();
    assert!(all.iter().any(|m| m.conference == conf));
    assert!(
        client
            .get_unread_confs(ADMIN_PERSON)
            .await
            .unwrap()
            .contains(&conf)
    );

    client.mark_text(texts[1], 7).await.unwrap();
    let marks = client.get_marks().await.unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!((marks[0].text_no, marks[0].mark_type), (texts[1], 7));
    client.unmark_text(texts[1]).await.unwrap();
    assert!(client.get_marks().await.unwrap().is_empty());

    client.sub_member(conf, ADMIN_PERSON).await.unwrap();
    assert_eq!(
        client
            .query_read_texts(ADMIN_PERSON, conf)
            .await
            .unwrap_err()
            .server_code(),
        Some(error_code::NOT_MEMBER)
    );
    assert_eq!(
        client
            .get_text_stat(TextNo(99_999))
            .await
            .unwrap_err()
            .server_code(),
        Some(error_code::NO_SUCH_TEXT)
    );
}

#[tokio::test]
async fn many_outstanding_calls_and_async_messages() {
    let Some(server) = server("many_outstanding_calls_and_async_messages") else {
        return;
    };
    let client = connect(&server).await;
    let mut events = client.take_async_messages().unwrap();
    client.accept_async(&[5, 8, 9, 13]).await.unwrap();
    client
        .login(ADMIN_PERSON, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let session = client.who_am_i().await.unwrap();
    let calls = (0..200).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.who_am_i().await })
    });
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), session);
    }
    // Another session logging in makes the server announce it (async message 9, login).
    let other = connect(&server).await;
    other
        .login(ADMIN_PERSON, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = events.recv().await.unwrap();
            if m.msg_no == 9 {
                return m;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(message.msg_no, 9);
}

#[tokio::test]
async fn a_server_that_goes_away_fails_calls_at_once() {
    let Some(mut server) = server("a_server_that_goes_away_fails_calls_at_once") else {
        return;
    };
    let client = connect(&server).await;
    client.who_am_i().await.unwrap();
    server.kill();
    tokio::time::timeout(Duration::from_secs(10), client.closed())
        .await
        .unwrap();
    assert!(client.is_closed());
    let err = client.who_am_i().await.unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
}

#[tokio::test]
async fn another_session_disconnecting_us_is_noticed() {
    let Some(server) = server("another_session_disconnecting_us_is_noticed") else {
        return;
    };
    let victim = connect(&server).await;
    let victim_no = victim.who_am_i().await.unwrap();
    let admin = connect(&server).await;
    admin
        .login(ADMIN_PERSON, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    admin.enable(255).await.unwrap();
    admin.disconnect(victim_no).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), victim.closed())
        .await
        .unwrap();
    assert!(matches!(victim.who_am_i().await, Err(Error::Disconnected)));
    assert_eq!(
        admin.disconnect(victim_no).await.unwrap_err().server_code(),
        Some(error_code::UNDEFINED_SESSION)
    );
}

#[tokio::test]
async fn authenticator_logs_in_by_number_and_by_name() {
    use session_core::{AuthError, Authenticator};
    use session_lyskom::auth::{LyskomAuthenticator, LyskomCredentials, PersonRef};
    let Some(server) = server("authenticator_logs_in_by_number_and_by_name") else {
        return;
    };
    let setup = connect(&server).await;
    let pers_no = setup.create_person("Auth Tester", "pw1").await.unwrap();
    let auth = LyskomAuthenticator::new(
        server.addr_string(),
        ConnectOptions {
            connect_timeout: Duration::from_secs(20),
            ..ConnectOptions::default()
        },
    );
    let by_number = LyskomCredentials {
        person: PersonRef::Number(pers_no),
        password: "pw1".into(),
    };
    let login = auth.authenticate(&by_number).await.unwrap();
    assert_eq!(
        (login.pers_no, login.pers_name.as_str()),
        (pers_no, "Auth Tester")
    );
    assert!(login.client.get_marks().await.is_ok());
    assert!(!format!("{by_number:?}").contains("pw1"));

    let by_name = LyskomCredentials {
        person: PersonRef::Name("Auth Tester".into()),
        password: "pw1".into(),
    };
    assert_eq!(auth.authenticate(&by_name).await.unwrap().pers_no, pers_no);

    let wrong = LyskomCredentials {
        person: PersonRef::Name("Auth Tester".into()),
        password: "nope".into(),
    };
    assert!(matches!(
        auth.authenticate(&wrong).await,
        Err(AuthError::InvalidCredentials)
    ));
    let nobody = LyskomCredentials {
        person: PersonRef::Name("Nobody By This Name".into()),
        password: "x".into(),
    };
    assert!(matches!(
        auth.authenticate(&nobody).await,
        Err(AuthError::InvalidCredentials)
    ));
}
