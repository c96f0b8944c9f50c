package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/kernels/cuda"
)

// deviceFlag is the root's persistent --device value.
var deviceFlag string

// computeCommands are the commands that compute and so honour --device.
var computeCommands = map[string]bool{"train": true, "eval": true, "collapse": true, "bench": true, "demo": true, "embed": true, "sweep": true}

// resolveDevice parses --device for a computing command and decides where it
// runs; `cuda` on a machine without a usable GPU is one error naming what was
// looked for and where. The decision is printed to log.
func resolveDevice(cmd *cobra.Command, log io.Writer) error {
	top := cmd
	for top.Parent() != nil && top.Parent().Parent() != nil {
		top = top.Parent()
	}
	if !computeCommands[top.Name()] {
		return nil
	}
	spec, err := cuda.ParseDevice(deviceFlag)
	if err != nil {
		return err
	}
	if spec.Kind == cuda.CPU {
		return nil
	}
	_, note, err := cuda.Resolve(spec, cuda.ProbeMachine())
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("device") {
		fmt.Fprintln(log, note)
	}
	return nil
}

func newDevices() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the CUDA devices and NVIDIA libraries siam finds on this machine",
		Long: `Looks for NVIDIA's libraries (the driver libcuda, cuBLAS, cuBLASLt, cuDNN, NVRTC) in
SIAM_CUDA_LIBS, LD_LIBRARY_PATH, the CUDA toolkit (CUDA_HOME, /usr/local/cuda), the
nvidia/*/lib folders of Python site-packages (where PyTorch's pip wheels put them) and the
system folders, asks the driver for its devices, and prints what it found.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := cuda.ProbeMachine()
			out := cmd.OutOrStdout()
			if asJSON {
				libs := map[string]string{}
				for _, f := range p.Libs {
					libs[f.Library.Name] = f.Path
				}
				errText := ""
				if p.Err != nil {
					errText = p.Err.Error()
				}
				b, _ := json.MarshalIndent(map[string]any{"driver_library": p.Driver, "driver_version": p.Version,
					"devices": p.Devices, "libraries": libs, "error": errText, "backends": registeredBackends()}, "", "  ")
				fmt.Fprintln(out, string(b))
				return nil
			}
			for _, b := range registeredBackends() {
				fmt.Fprintf(out, "backend %-5s %s\n", b["name"], b["describe"])
			}
			for _, f := range p.Libs {
				where := f.Path
				if where == "" {
					where = "not found in the searched folders (the dynamic loader may still know it)"
				}
				fmt.Fprintf(out, "%-9s %s\n", f.Library.Name, where)
			}
			if p.Err != nil {
				fmt.Fprintf(out, "no usable GPU: %v\n", p.Err)
				return nil
			}
			fmt.Fprintf(out, "driver %s, CUDA %d.%d\n", p.Driver, p.Version/1000, p.Version%1000/10)
			for _, d := range p.Devices {
				fmt.Fprintf(out, "cuda:%d  %s, %.1f GiB, compute %d.%d, %d SMs\n", d.Index, d.Name, float64(d.MemoryBytes)/(1<<30), d.Major, d.Minor, d.SMs)
			}
			fmt.Fprintf(out, "note: %v\n", cuda.ErrKernelsMissing)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// registeredBackends lists the compute backends registered in this binary
// (backend.Names) with their one-line description, for `siam devices`.
func registeredBackends() []map[string]string {
	var out []map[string]string
	for _, n := range backend.Names() {
		d := "cannot open"
		if b, err := backend.Open(n); err == nil {
			d = b.Describe()
		} else {
			d += ": " + err.Error()
		}
		out = append(out, map[string]string{"name": n, "describe": d})
	}
	return out
}
