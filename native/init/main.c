/* Placeholder so binding.gyp builds until the real tsrun-init launcher lands here. */
#include <stdio.h>

int main(void)
{
  puts("tsrun-init placeholder");
  return 0;
}
