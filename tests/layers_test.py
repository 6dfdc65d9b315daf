#!/usr/bin/env python3
"""The file-level call graph goes one way.

    layers_test.py BUILD_DIR SOURCE_DIR src|tools

Builds the graph from the object files meson compiled (compile_commands.json
says which object comes from which source): file A calls file B when an
undefined symbol of A's object is defined by B's. Then

  src    every src/*.c file has a layer in LAYERS below; no file calls a
         file of a higher layer; no group of files calls itself in a
         circle (same layer included); no src/ file refers to a symbol
         defined in tools/.
  tools  no group of tools/*.c files calls itself in a circle (the files
         are found, not listed: tools/ owns its own structure).

Exit 0 if the graph is clean, 1 with every offending edge (and the symbols
that make it) otherwise, 77 (skipped) without nm.
"""
import json
import os
import shutil
import subprocess
import sys

# The library's layers, lowest first; a file may call its own layer and
# those below. One line per file; a new file in src/ needs a line here.
LAYERS = {
    # 0: names, errors, arrays
    'names.c': 0,
    'error.c': 0,
    'arrays.c': 0,
    # 1: .npy files, generated inputs, checksums, shared memory, the machine
    'npy.c': 1,
    'inputs.c': 1,
    'checksum.c': 1,
    'shm.c': 1,
    'sysinfo.c': 1,
    # 2: the plan's data layout
    'plan.c': 2,
    # 3: the kernels
    'direct.c': 3,
    'direct_generic.c': 3,
    'direct_avx2.c': 3,
    'direct_avx512.c': 3,
    'fft.c': 3,
    # 4: the executor and the planner
    'exec.c': 4,
    'planner.c': 4,
    # 5: the strategies
    'strategy.c': 5,
    'strategy_serial.c': 5,
    'strategy_procs.c': 5,
    'strategy_threads.c': 5,
    'strategy_omp.c': 5,
}
LAYER_NAMES = ['names/errors/arrays', 'npy/inputs/checksum/shm/sysinfo',
               'plan layout', 'direct/fft kernels', 'exec/planner',
               'strategies']


def objects(build, source):
    """{'src/plan.c': object path, ...} for the C files of src/ and tools/."""
    with open(os.path.join(build, 'compile_commands.json')) as f:
        entries = json.load(f)
    out = {}
    for e in entries:
        src = os.path.realpath(os.path.join(e['directory'], e['file']))
        rel = os.path.relpath(src, os.path.realpath(source))
        top = rel.split(os.sep)[0]
        if top not in ('src', 'tools') or not rel.endswith('.c'):
            continue
        if os.sep in rel[len(top) + 1:]:
            continue  # a subfolder: not part of the graph
        # The same source may be compiled for several targets; one will do.
        out.setdefault(rel, os.path.join(e['directory'], e['output']))
    return out


def symbols(nm, obj):
    """(defined globals, undefined names) of an object file."""
    res = subprocess.run([nm, '-P', obj], capture_output=True, text=True,
                         check=True)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == 'U':
            undefined.add(name)
        elif kind in 'TDRBCGSVWi':
            defined.add(name)
    return defined, undefined


def graph(objs, nm):
    """{file: {callee file: [symbols]}} over the given files."""
    syms = {f: symbols(nm, o) for f, o in objs.items()}
    owner = {}
    for f, (defined, _) in syms.items():
        for s in defined:
            owner.setdefault(s, f)
    edges = {f: {} for f in objs}
    for f, (_, undefined) in syms.items():
        for s in sorted(undefined):
            g = owner.get(s)
            if g and g != f:
                edges[f].setdefault(g, []).append(s)
    return edges


def cycles(files, edges):
    """Strongly connected groups of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in files:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(files):
        if v not in index:
            visit(v)
    return out


def edge_text(a, b, edges):
    names = edges[a][b]
    more = ' ...' if len(names) > 4 else ''
    return '%s -> %s (%s%s)' % (a, b, ', '.join(names[:4]), more)


def cycle_errors(files, edges, what):
    errors = []
    for group in cycles(files, edges):
        errors.append('%s files call each other in a circle: %s' %
                      (what, ', '.join(group)))
        for a in group:
            for b in sorted(edges[a]):
                if b in group:
                    errors.append('  ' + edge_text(a, b, edges))
    return errors


def check_src(source, objs, edges):
    errors = []
    present = sorted('src/' + f for f in os.listdir(os.path.join(source, 'src'))
                     if f.endswith('.c'))
    for f in present:
        if os.path.basename(f) not in LAYERS:
            errors.append('%s has no layer in tests/layers_test.py' % f)
        elif f not in objs:
            errors.append('%s was not compiled (no object in the build)' % f)
    for name in sorted(LAYERS):
        if 'src/' + name not in present:
            errors.append('tests/layers_test.py lists src/%s, which is gone'
                          % name)
    src = {f for f in objs if f.startswith('src/')}
    for a in sorted(src):
        la = LAYERS.get(os.path.basename(a))
        for b in sorted(edges[a]):
            if b.startswith('tools/'):
                errors.append('the library calls the program: ' +
                              edge_text(a, b, edges))
                continue
            lb = LAYERS.get(os.path.basename(b))
            if la is not None and lb is not None and lb > la:
                errors.append('layer %d (%s) calls up into layer %d (%s): %s'
                              % (la, LAYER_NAMES[la], lb, LAYER_NAMES[lb],
                                 edge_text(a, b, edges)))
    errors += cycle_errors(src, edges, 'src/')
    return errors


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ('src', 'tools'):
        sys.exit('usage: layers_test.py BUILD_DIR SOURCE_DIR src|tools')
    build, source, part = sys.argv[1:]
    nm = shutil.which('nm')
    if not nm:
        print('nm not found: skipped')
        sys.exit(77)
    objs = objects(build, source)
    missing = [o for o in objs.values() if not os.path.exists(o)]
    if missing:
        sys.exit('not built yet: %s' % ', '.join(missing))
    edges = graph(objs, nm)
    if part == 'src':
        errors = check_src(source, objs, edges)
    else:
        tools = {f for f in objs if f.startswith('tools/')}
        errors = cycle_errors(tools, edges, 'tools/')
    files = sorted(f for f in objs if f.startswith(part + '/'))
    for f in files:
        callees = sorted(b for b in edges[f] if b.startswith(part + '/'))
        layer = ''
        if part == 'src':
            layer = '[%s] ' % LAYERS.get(os.path.basename(f), '?')
        print('%s%s -> %s' % (layer, f, ', '.join(callees) or '-'))
    if errors:
        print()
        print('\n'.join(errors))
        sys.exit(1)
    print('%d %s files, no call goes up or round in a circle' %
          (len(files), part))


if __name__ == '__main__':
    main()
