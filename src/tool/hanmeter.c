/*
 * hanmeter.c - the command-line decoder (placeholder until the tool lands).
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("hanmeter %s\n", HM_VERSION);
		return 0;
	}
	fprintf(stderr, "hanmeter: not built yet\n");
	return 1;
}
