# Empties the API record directory (cmake -DDIR=... -P clear_records.cmake): the contract test
# then sees only this run's responses, never a stale run's.
if(NOT DIR)
  message(FATAL_ERROR "clear_records.cmake: expected -DDIR=<the record directory>")
endif()
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
