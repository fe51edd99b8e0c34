-- wrk script: POST a phishing-example prediction, rotating over 1000 users so
-- that frequency caps see many units.
local counter = 0
local template = '{"unit":"user-%d","features":{"url_length":142,"num_dots":6,"num_hyphens":4,"has_ip_host":true,' ..
  '"uses_https":false,"domain_age_days":%d,"num_subdomains":4,"suspicious_words":3,"tld_category":"new_gtld"}}'

request = function()
  counter = counter + 1
  local body = string.format(template, counter % 1000, counter % 400)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
