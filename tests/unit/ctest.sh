# ctest.sh (sourced by the tests/unit scripts of C unit tests): builds
# tests/unit/NAME_test.c with the sources and libraries it needs, under
# AddressSanitizer and UBSan, and runs it; the test prints its own
# PASS/FAIL lines.
#   c_unit_test NAME [SOURCE... -lLIB...]
c_unit_test() {
	local name=$1 out=build/tests/$1_test
	shift
	mkdir -p build/tests
	if ! gcc -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Iinclude/uapi \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-o "$out" "tests/unit/${name}_test.c" "$@" 2>"$out.log"; then
		echo "FAIL: $name: unit test builds: $(grep -m 3 'error' "$out.log" | tr '\n' ' ')"
		return 1
	fi
	"$out"
}
