#include <stdio.h>

int main(void)
{
    fprintf(stderr, "snowflake-mcp: under construction\n");
    return 1;
}
