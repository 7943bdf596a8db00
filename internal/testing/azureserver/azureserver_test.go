package azureserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func do(t *testing.T, s *Server, method, path, token string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestProtocol(t *testing.T) {
	s := New(t)
	resp, _ := do(t, s, "GET", "/secrets/x?api-version=7.6", "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource="https://vault.azure.net"`) {
		t.Fatalf("unauthenticated request: %d %q, want 401 with a bearer challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body := do(t, s, "GET", "/secrets/x", "tok")
	if resp.StatusCode != 400 || body["error"].(map[string]any)["code"] != "MissingApiVersionParameter" {
		t.Fatalf("no api-version: %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, s, "GET", "/secrets/x?api-version=7.6", "tok")
	if resp.StatusCode != 404 || body["error"].(map[string]any)["code"] != "SecretNotFound" {
		t.Fatalf("missing secret: %d %v", resp.StatusCode, body)
	}
	id, err := s.Seed("My-Secret", "v")
	if err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, s, "GET", "/secrets/my-secret/?api-version=7.6", "tok")
	if resp.StatusCode != 200 || !strings.HasSuffix(body["id"].(string), "/secrets/My-Secret/"+id) || body["value"] != "v" {
		t.Fatalf("case-insensitive get: %d %v", resp.StatusCode, body)
	}
	if err := s.SetEnabled("my-secret", "", false); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, s, "GET", "/secrets/My-Secret/"+id+"?api-version=7.6", "tok")
	inner, _ := body["error"].(map[string]any)["innererror"].(map[string]any)
	if resp.StatusCode != 403 || inner["code"] != "SecretDisabled" {
		t.Fatalf("disabled version: %d %v", resp.StatusCode, body)
	}
	resp, _ = do(t, s, "DELETE", "/secrets/My-Secret?api-version=7.6", "tok")
	if resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp, _ = do(t, s, "GET", "/deletedsecrets/my-secret?api-version=7.6", "tok")
	if resp.StatusCode != 200 {
		t.Fatalf("get deleted: %d", resp.StatusCode)
	}
	resp, _ = do(t, s, "DELETE", "/deletedsecrets/my-secret?api-version=7.6", "tok")
	if resp.StatusCode != 204 {
		t.Fatalf("purge: %d", resp.StatusCode)
	}
}
