//go:build ignore

// helper is scripts/k8s-live.sh's portable half (no openssl or python
// needed on the machine):
//
//	go run scripts/k8s-live/helper.go ports N   N free loopback TCP ports
//	go run scripts/k8s-live/helper.go pki DIR   a throw-away PKI in DIR
//
// The PKI is for one run on 127.0.0.1 only: a CA, the API server's serving
// certificate, two client certificates (admin in system:masters, and
// keyward-live, which RBAC confines to one namespace) and the
// service-account signing key. Nothing here is a real credential.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fail("usage: helper ports N | helper pki DIR")
	}
	switch os.Args[1] {
	case "ports":
		n, err := strconv.Atoi(os.Args[2])
		check(err)
		var ls []net.Listener
		for range n {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			check(err)
			ls = append(ls, l)
			fmt.Println(l.Addr().(*net.TCPAddr).Port)
		}
		for _, l := range ls {
			l.Close()
		}
	case "pki":
		pki(os.Args[2])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func pki(dir string) {
	check(os.MkdirAll(dir, 0o700))
	caKey := key()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "keyward-live-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	check(err)
	ca, err = x509.ParseCertificate(caDER)
	check(err)
	write(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER)

	leaf := func(name string, tmpl *x509.Certificate) {
		k := key()
		tmpl.SerialNumber = serial()
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(48*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		check(err)
		write(filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
		kd, err := x509.MarshalPKCS8PrivateKey(k)
		check(err)
		write(filepath.Join(dir, name+".key"), "PRIVATE KEY", kd)
	}
	leaf("apiserver", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
	})
	leaf("admin", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "keyward-live-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	leaf("user", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "keyward-live"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	// The service-account signing key pair.
	sa := key()
	kd, err := x509.MarshalPKCS8PrivateKey(sa)
	check(err)
	write(filepath.Join(dir, "sa.key"), "PRIVATE KEY", kd)
	pd, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	check(err)
	write(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", pd)
}

func key() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	return k
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	check(err)
	return n
}

func write(path, typ string, der []byte) {
	check(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "k8s-live helper:", msg)
	os.Exit(1)
}
