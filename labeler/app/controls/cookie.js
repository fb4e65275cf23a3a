// Writes (or clears) the login cookie. Streamlit cannot set a response header from a page, so the
// cookie is written here: it is therefore not HttpOnly. SameSite=Strict always; Secure over HTTPS.
export default function (component) {
  const { data } = component;
  if (!data || !data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  if (data.token) {
    document.cookie = `${data.name}=${data.token}; Path=/; Max-Age=${data.max_age}; SameSite=Strict${secure}`;
  } else {
    document.cookie = `${data.name}=; Path=/; Max-Age=0; SameSite=Strict${secure}`;
  }
}
