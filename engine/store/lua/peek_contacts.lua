-- How many of the numbers are at a contact-frequency limit of their channel now; changes nothing
-- (``koodispatch plan``'s forecast). ARGV[1..5] as contact_counts.lua.
--#include contact_counts
local capped = 0
for i = 1, #channels do
  local list = limits[string.sub(channels, i, i)]
  if list and at_limit(i, list) then
    capped = capped + 1
  end
end
return capped
