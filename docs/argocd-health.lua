-- Argo CD health check for sessionstore.io/SessionStore. Add it to the argocd-cm ConfigMap under
-- resource.customizations.health.sessionstore.io_SessionStore (docs/operations.md shows how).
--   Healthy      the Ready condition is True and observes the SessionStore's current generation
--   Progressing  no status yet, the operator has not observed the current generation, or the
--                phase is Pending or Provisioning (the store or the Deployment is on its way)
--   Degraded     the phase is Degraded (the store stopped answering) or Failed (the spec cannot be
--                used; the message names the field)
-- The message is the Ready condition's, which says what is waited for or what to fix.
local hs = {}

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end

local ready = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end

local message = ""
if ready ~= nil and ready.message ~= nil then
  message = ready.message
end

-- The generation the Ready condition (else the status) was computed for.
local observed = obj.status.observedGeneration
if ready ~= nil and ready.observedGeneration ~= nil then
  observed = ready.observedGeneration
end
if observed == nil or observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = obj.status.phase
if phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. message
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end

hs.status = "Progressing"
if phase ~= nil then
  hs.message = phase .. ": " .. message
else
  hs.message = message
end
return hs
