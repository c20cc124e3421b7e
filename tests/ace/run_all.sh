#!/bin/sh
# Run every ACE test binary, count PASS/FAIL lines, print "N passed, M failed".
out=$1
pass=0; fail=0
for t in test_unit test_thread_stub test_live; do
    if [ ! -x "$out/$t" ]; then
        echo "SKIP $t (not built)"
        continue
    fi
    "$out/$t" > "$out/$t.txt" 2>&1
    rc=$?
    cat "$out/$t.txt"
    p=$(grep -c '^PASS ' "$out/$t.txt")
    f=$(grep -c '^FAIL ' "$out/$t.txt")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $t exited with status $rc"; fi
    pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
