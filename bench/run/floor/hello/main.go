// Command hello is the floor of a Go program's start-up: it writes one line.
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
