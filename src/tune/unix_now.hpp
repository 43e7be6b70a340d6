// The present as the storages record it: seconds since 1970 (UTC). It is defined alone in
// unix_now.cpp, so that a program that needs time to stand still (the fuzz harnesses, whose fixed
// runs must take the same paths on every machine) links a definition of its own instead.
#pragma once

namespace mlptune::tune {

double unix_now();

}  // namespace mlptune::tune
