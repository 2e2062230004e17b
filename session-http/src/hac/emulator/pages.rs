//! The HTML the emulator serves, shaped like HAC's JSP pages where clients look.

use crate::html_escape::escape;

fn head(title: &str, token: &str) -> String {
    let token = escape(token);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <title>hybris administration console | {title}</title>\n\
         <meta name=\"_csrf\" content=\"{token}\" />\n\
         <meta name=\"_csrf_header\" content=\"X-CSRF-TOKEN\" />\n</head>\n"
    )
}

/// The login page: the token as meta tags and as the form's hidden input.
pub(crate) fn login(token: &str, login_error: bool) -> String {
    let error = if login_error {
        "<div id=\"loginError\" class=\"error\">Invalid login or password. Please try again.</div>\n"
    } else {
        ""
    };
    format!(
        "{head}<body class=\"login\">\n<div id=\"loginForm\">\n<h1>hybris administration console</h1>\n{error}\
         <form name=\"loginForm\" action=\"/hac/j_spring_security_check\" method=\"POST\">\n\
         <input type=\"text\" name=\"j_username\" id=\"j_username\" value=\"\" />\n\
         <input type=\"password\" name=\"j_password\" id=\"j_password\" value=\"\" />\n\
         <input type=\"hidden\" name=\"_csrf\" value=\"{token}\" />\n\
         <button type=\"submit\">login</button>\n</form>\n</div>\n</body>\n</html>\n",
        head = head("Login", token),
        token = escape(token),
    )
}

/// A page of the logged-in console (home, or one of the consoles).
pub(crate) fn console(title: &str, token: &str, user: &str) -> String {
    format!(
        "{head}<body>\n<div id=\"header\"><span class=\"user\">{user}</span>\n\
         <form action=\"/hac/logout\" method=\"post\" id=\"logoutForm\">\
         <input type=\"hidden\" name=\"_csrf\" value=\"{token}\" />\
         <button type=\"submit\">logout</button></form></div>\n\
         <ul id=\"nav\"><li><a href=\"/hac/console/scripting\">Scripting Languages</a></li>\
         <li><a href=\"/hac/console/flexsearch\">FlexibleSearch</a></li>\
         <li><a href=\"/hac/console/impex/import\">ImpEx Import</a></li></ul>\n\
         <h2>{title}</h2>\n</body>\n</html>\n",
        head = head(title, token),
        token = escape(token),
        user = escape(user),
    )
}

/// The Impex console after an import: the result span and, on failure, the unresolved lines.
pub(crate) fn impex_result(token: &str, script: &str, problems: &[String]) -> String {
    let (level, summary) = if problems.is_empty() {
        ("notice", "Import finished successfully")
    } else {
        ("error", "Import has encountered problems")
    };
    let detail = if problems.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"box impexResult quiet\">\n<pre>{}</pre>\n</div>\n",
            escape(&problems.join("\n"))
        )
    };
    format!(
        "{head}<body>\n<h2>ImpEx Import</h2>\n\
         <form id=\"impexForm\" action=\"/hac/console/impex/import\" method=\"post\">\n\
         <textarea id=\"impexContent\" name=\"scriptContent\">{script}</textarea>\n\
         <input type=\"hidden\" name=\"_csrf\" value=\"{token}\" />\n</form>\n\
         <span id=\"impexResult\" data-level=\"{level}\" data-result=\"{summary}\"></span>\n\
         {detail}</body>\n</html>\n",
        head = head("ImpEx Import", token),
        script = escape(script),
        token = escape(token),
    )
}

/// Tomcat's error page for a refused request.
pub(crate) fn error(status: u16, reason: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><title>HTTP Status {status} – {reason}</title></head>\
         <body><h1>HTTP Status {status} – {reason}</h1></body></html>"
    )
}
