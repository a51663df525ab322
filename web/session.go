package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/onramp/onramp"
)

// maxForm bounds the sign-in form's body.
const maxForm = 64 << 10

// page wraps a page handler with the session check: without a valid
// session the browser is sent to sign in, and brought back afterwards.
func (h *Handler) page(next func(http.ResponseWriter, *http.Request, *onramp.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := h.sessionUser(r)
		switch onramp.ErrorCode(err) {
		case "":
			w.Header().Set("Cache-Control", "no-store")
			next(w, r, u)
		case onramp.ETOOMANY:
			h.tooMany(w, r, "error", pageData{Title: "Too many requests"}, err)
		case onramp.EUNAUTHORIZED:
			if _, cerr := r.Cookie(onramp.SessionCookie); cerr == nil {
				http.SetCookie(w, sessionCookie(r, ""))
			} else if crossSiteNavigation(r) {
				h.render(w, r, http.StatusOK, "reload", pageData{Title: "Opening"})
				return
			}
			http.Redirect(w, r, signinURL(r.URL.RequestURI()), http.StatusSeeOther)
		default:
			h.serverError(w, r, err)
		}
	}
}

// crossSiteNavigation reports whether r is a link followed from another
// site (a chat message, an e-mail). The browser does not send a
// SameSite=Strict cookie with it, so a signed-in user would be asked to sign
// in again; the "reload" page opens the same address from this site instead,
// which carries the cookie, and goes to sign in only if there is no session.
func crossSiteNavigation(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	return (site == "cross-site" || site == "same-site") && r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Method == http.MethodGet
}

// sessionUser returns the user of the request's session cookie, or an
// EUNAUTHORIZED error.
func (h *Handler) sessionUser(r *http.Request) (*onramp.User, error) {
	c, err := r.Cookie(onramp.SessionCookie)
	if err != nil || c.Value == "" {
		return nil, onramp.Errorf(onramp.EUNAUTHORIZED, "not signed in")
	}
	return h.deps.Auth.AuthenticateSession(r.Context(), c.Value)
}

// sessionCookie returns the cookie that holds a session ID; an empty one
// clears it. The cookie is HttpOnly so that no script can read it, and
// SameSite=Strict so that no other site can send requests with it. It is
// Secure when the browser came over HTTPS: to onramp itself, or to a proxy
// in front of it that says so in X-Forwarded-Proto. (A client forging that
// header over plain HTTP only gets a cookie its browser will not send back.)
func sessionCookie(r *http.Request, session string) *http.Cookie {
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	c := &http.Cookie{
		Name: onramp.SessionCookie, Value: session, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(strings.TrimSpace(proto), "https"),
	}
	if session == "" {
		c.MaxAge = -1
	}
	return c
}

// signinURL is the sign-in page that returns to next afterwards.
func signinURL(next string) string {
	if localPath(next) == "/" {
		return "/signin"
	}
	return "/signin?next=" + url.QueryEscape(next)
}

// localPath returns p if it is a path on this site, else "/": a sign-in
// link must not send anyone to another site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsFunc(p, unicode.IsControl) {
		return "/"
	}
	return p
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if u, err := h.sessionUser(r); err == nil && u != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "signin", pageData{Title: "Sign in", Next: next})
}

// signin checks the token and, if it is valid, starts a session and keeps
// its ID in the session cookie. The token is never written back into the
// page, even on error, nor kept by the browser.
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := localPath(r.PostFormValue("next"))
	data := pageData{Title: "Sign in", Next: next}
	if token == "" {
		data.Error = "Paste your API token. Create one with `onramp token create --user NAME`."
		h.render(w, r, http.StatusUnprocessableEntity, "signin", data)
		return
	}
	session, u, err := h.deps.Auth.StartSession(r.Context(), token)
	switch onramp.ErrorCode(err) {
	case "":
	case onramp.ETOOMANY:
		h.tooMany(w, r, "signin", data, err)
		return
	case onramp.EUNAUTHORIZED:
		h.deps.Logger.Info("sign-in refused", "remote", r.RemoteAddr)
		data.Error = "That token is not valid. Check that you copied all of it, or create a new one with `onramp token create --user NAME`."
		h.render(w, r, http.StatusUnauthorized, "signin", data)
		return
	default:
		h.serverError(w, r, err)
		return
	}
	http.SetCookie(w, sessionCookie(r, session))
	h.deps.Logger.Info("signed in", "user", u.Name, "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout ends the session, so that its cookie, wherever a copy of it is,
// is refused from now on, and clears the cookie. The token signed in with
// stays valid: it is revoked with `onramp token revoke ID`.
func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(onramp.SessionCookie); err == nil && c.Value != "" {
		if err := h.deps.Auth.EndSession(r.Context(), c.Value); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	http.SetCookie(w, sessionCookie(r, ""))
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
