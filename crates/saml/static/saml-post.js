// Submits the SAML HTTP-POST form at once; its button stays as the fallback.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-post");
  if (form) form.submit();
});
