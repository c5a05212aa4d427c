/*
 * main.c - hanmeterd's command line (placeholder until the daemon lands).
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("hanmeterd %s\n", HM_VERSION);
		return 0;
	}
	fprintf(stderr, "hanmeterd: not built yet\n");
	return 1;
}
