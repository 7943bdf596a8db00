//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command hello is the floor of a Go program's start-up: it writes one line.
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
