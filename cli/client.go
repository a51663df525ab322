// Package cli is onramp's command-line client: it talks to the API with
// ONRAMP_SERVER and ONRAMP_TOKEN, prints tables for people and JSON for
// scripts, and follows projects live over the event stream.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/onramp/onramp"
)

// Client calls the onramp API.
type Client struct {
	Server string
	Token  string
	HTTP   *http.Client
}

// do sends a request and decodes a JSON answer into out (if not nil). An
// error answer becomes an *onramp.Error with the server's code and message.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	return nil
}

// raw sends a request and returns the answer's body unchanged, for --output json.
func (c *Client) raw(ctx context.Context, method, path string, body any) ([]byte, error) {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, decodeError(resp)
	}
	return io.ReadAll(resp.Body)
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Server, "/")+path, r)
	if err != nil {
		return nil, fmt.Errorf("ONRAMP_SERVER %q: %w", c.Server, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach onramp at %s (set ONRAMP_SERVER, or start it with `onramp dev`): %w", c.Server, err)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	var body struct {
		Error onramp.Error `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, &body); err != nil || body.Error.Code == "" {
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if body.Error.Code == onramp.EUNAUTHORIZED && resp.Request.Header.Get("Authorization") == "" {
		body.Error.Message = "no API token: set ONRAMP_TOKEN (`onramp dev` prints one; `onramp token create --user NAME` makes one)"
	}
	return &body.Error
}

func projectPath(name string, rest ...string) string {
	return "/api/v1/projects/" + url.PathEscape(name) + strings.Join(rest, "")
}
